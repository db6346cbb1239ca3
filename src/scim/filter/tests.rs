//! Filter and PATCH-path grammar tests, including round-trip and hostile-input properties.

use super::*;

fn p(s: &str) -> Filter {
    parse_filter(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}
fn path(s: &str) -> AttrPath {
    AttrPath::parse(s).unwrap()
}
fn eq(a: &str, v: &str) -> Filter {
    Filter::Compare(path(a), CompareOp::Eq, CompValue::Str(v.into()))
}

#[test]
fn simple_and_case_insensitive_operators() {
    assert_eq!(p(r#"userName eq "bjensen""#), eq("userName", "bjensen"));
    assert_eq!(p(r#"userName EQ "bjensen""#), eq("userName", "bjensen"));
    assert_eq!(p("title pr"), Filter::Present(path("title")));
    assert_eq!(p("title PR"), Filter::Present(path("title")));
}

#[test]
fn and_binds_tighter_than_or() {
    let f = p(r#"a eq "1" or b eq "2" and c eq "3""#);
    assert_eq!(
        f,
        Filter::Or(
            Box::new(eq("a", "1")),
            Box::new(Filter::And(Box::new(eq("b", "2")), Box::new(eq("c", "3"))))
        )
    );
    let g = p(r#"(a eq "1" or b eq "2") and c eq "3""#);
    assert!(matches!(g, Filter::And(_, _)));
}

#[test]
fn values_with_spaces_brackets_and_escapes() {
    assert_eq!(
        p(r#"displayName eq "Sales (EMEA) [x] and or""#),
        eq("displayName", "Sales (EMEA) [x] and or")
    );
    assert_eq!(
        p(r#"displayName eq "say \"hi\"""#),
        eq("displayName", "say \"hi\"")
    );
    assert_eq!(
        p(r#"displayName eq "back\\slash""#),
        eq("displayName", "back\\slash")
    );
}

#[test]
fn complex_value_filter_and_urn_paths() {
    let f = p(r#"emails[type eq "work" and value co "@example.com"]"#);
    match f {
        Filter::ValuePath(a, inner) => {
            assert_eq!(a.name, "emails");
            assert!(matches!(*inner, Filter::And(_, _)));
        }
        other => panic!("{other:?}"),
    }
    let f = p(r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "x""#);
    match f {
        Filter::Compare(a, _, _) => {
            assert_eq!(
                a.urn.as_deref(),
                Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User")
            );
            assert_eq!(a.name, "manager");
            assert_eq!(a.sub.as_deref(), Some("value"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn value_path_followed_by_a_sub_attribute_test() {
    let f = p(r#"emails[type eq "work"].value eq "a@x.com""#);
    assert_eq!(
        f,
        Filter::ValuePath(
            path("emails"),
            Box::new(Filter::And(
                Box::new(eq("type", "work")),
                Box::new(eq("value", "a@x.com"))
            ))
        )
    );
    // The same as the bracketed form, so it prints and parses back to itself.
    assert_eq!(p(&f.to_string()), f);
    assert_eq!(
        p(r#"emails[type eq "work" and value eq "a@x.com"]"#),
        f,
        "one meaning, two spellings"
    );
    let f = p(r#"emails[type eq "work"].value pr and userName eq "u""#);
    match f {
        Filter::And(a, b) => {
            assert_eq!(
                *a,
                Filter::ValuePath(
                    path("emails"),
                    Box::new(Filter::And(
                        Box::new(eq("type", "work")),
                        Box::new(Filter::Present(path("value")))
                    ))
                )
            );
            assert_eq!(*b, eq("userName", "u"));
        }
        other => panic!("{other:?}"),
    }
    for bad in [
        r#"emails[type eq "work"].value"#,
        r#"emails[type eq "work"].value eq"#,
        r#"emails[type eq "work"].1x eq "a""#,
        r#"emails[type eq "work"].value.sub eq "a""#,
        r#"emails[type eq "work"].value[primary eq true]"#,
    ] {
        let e = parse_filter(bad).unwrap_err();
        assert_eq!(
            e.scim_type,
            Some(super::super::error::ScimType::InvalidFilter),
            "{bad}"
        );
    }
}

#[test]
fn not_numbers_booleans_null() {
    assert!(matches!(p(r#"not (userName eq "x")"#), Filter::Not(_)));
    assert!(matches!(p(r#"not(userName eq "x")"#), Filter::Not(_)));
    assert_eq!(
        p("active eq true"),
        Filter::Compare(path("active"), CompareOp::Eq, CompValue::Bool(true))
    );
    assert_eq!(
        p("active eq False"),
        Filter::Compare(path("active"), CompareOp::Eq, CompValue::Bool(false))
    );
    assert_eq!(
        p("x gt 10.5"),
        Filter::Compare(path("x"), CompareOp::Gt, CompValue::Num(10.5))
    );
    assert_eq!(
        p("x eq null"),
        Filter::Compare(path("x"), CompareOp::Eq, CompValue::Null)
    );
}

#[test]
fn invalid_filters_are_invalid_filter_errors() {
    for bad in [
        "",
        "userName",
        "userName eq",
        "userName zz \"x\"",
        "userName eq bjensen",
        "(userName eq \"x\"",
        "userName eq \"x\")",
        "userName eq \"x",
        "emails[type eq \"work\"",
        "a eq \"1\" and",
        "a eq \"1\" xor b eq \"2\"",
        "1abc eq \"x\"",
    ] {
        let e = parse_filter(bad).unwrap_err();
        assert_eq!(e.status, 400, "{bad}");
        assert_eq!(
            e.scim_type,
            Some(super::super::error::ScimType::InvalidFilter),
            "{bad}"
        );
    }
    let deep = format!("{}a pr{}", "(".repeat(500), ")".repeat(500));
    assert!(parse_filter(&deep).is_err());
}

#[test]
fn long_chains_long_strings_and_deep_nesting_are_bounded() {
    use crate::scim::ScimType;
    let chain = |n: usize, op: &str| vec!["userName pr"; n].join(&format!(" {op} "));
    // The attack that overflowed the stack: 5,000 terms in one `or` chain (~75 KB).
    for op in ["or", "and"] {
        let e = parse_filter(&chain(5000, op)).unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::InvalidFilter), "{op}");
        assert!(e.detail.contains("longer than"), "{}", e.detail);
        let e = parse_filter(&chain(101, op)).unwrap_err();
        assert!(e.detail.contains("more than 100 terms"), "{}", e.detail);
        assert!(parse_filter(&chain(100, op)).is_ok());
    }
    let vp = format!("emails[{}]", chain(100, "or").replace("userName", "value"));
    assert!(
        parse_filter(&vp).is_err(),
        "the value path itself is a term"
    );
    let long = format!("displayName co \"{}\"", "%_".repeat(3000));
    assert!(parse_filter(&long).unwrap_err().detail.contains("string"));
    let nots = format!("{}a pr{}", "not (".repeat(17), ")".repeat(17));
    assert!(parse_filter(&nots)
        .unwrap_err()
        .detail
        .contains("levels deep"));
    let nots = format!("{}a pr{}", "not (".repeat(15), ")".repeat(15));
    assert!(parse_filter(&nots).is_ok());
    assert!(parse_filter(r#"userName co "\u0000""#).is_err());
    // PATCH paths share the bounds and answer invalidPath.
    let path = format!(
        "members[{}]",
        chain(5000, "or").replace("userName pr", "value eq \"x\"")
    );
    let e = parse_patch_path(&path).unwrap_err();
    assert_eq!(e.scim_type, Some(ScimType::InvalidPath));
    // Configured limits apply, and cannot exceed the ceiling.
    let tight = FilterLimits {
        max_terms: 2,
        ..FilterLimits::default()
    };
    assert!(parse_filter_with(&chain(3, "or"), &tight).is_err());
    assert!(parse_filter_with(&chain(2, "or"), &tight).is_ok());
    let huge = FilterLimits {
        max_terms: 1_000_000,
        max_len: usize::MAX,
        max_depth: 0,
        max_string: 0,
    }
    .clamped();
    assert_eq!(huge.max_terms, FilterLimits::CEILING.max_terms);
    assert_eq!(huge.max_len, FilterLimits::CEILING.max_len);
    assert_eq!((huge.max_depth, huge.max_string), (1, 1));
    let at_ceiling = FilterLimits {
        max_len: 65_536,
        ..FilterLimits::CEILING
    };
    assert!(parse_filter_with(&chain(256, "or"), &at_ceiling).is_ok());
}

#[test]
fn patch_paths() {
    let pp = parse_patch_path(r#"emails[type eq "work"].value"#).unwrap();
    assert_eq!(pp.attr.name, "emails");
    assert!(pp.filter.is_some());
    assert_eq!(pp.filter_sub.as_deref(), Some("value"));
    let pp = parse_patch_path("name.givenName").unwrap();
    assert_eq!(pp.attr.sub.as_deref(), Some("givenName"));
    let pp = parse_patch_path(r#"members[value eq "a" or value eq "b"]"#).unwrap();
    assert!(matches!(pp.filter, Some(Filter::Or(_, _))));
    let pp = parse_patch_path("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager")
        .unwrap();
    assert_eq!(pp.attr.name, "manager");
    assert!(parse_patch_path("emails[type eq").is_err());
    assert!(parse_patch_path("a b").is_err());
}

mod props {
    use super::*;
    use proptest::prelude::*;

    fn arb_path() -> impl Strategy<Value = AttrPath> {
        (
            prop::option::of(Just(
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User".to_string(),
            )),
            "[a-zA-Z][a-zA-Z0-9]{0,8}",
            prop::option::of("[a-zA-Z][a-zA-Z0-9]{0,6}"),
        )
            .prop_filter("keywords are not names here", |(_, n, _)| {
                !["and", "or", "not", "pr"].contains(&n.to_ascii_lowercase().as_str())
            })
            .prop_map(|(urn, name, sub)| AttrPath { urn, name, sub })
    }

    fn arb_value() -> impl Strategy<Value = CompValue> {
        prop_oneof![
            any::<String>().prop_map(CompValue::Str),
            any::<bool>().prop_map(CompValue::Bool),
            (-1.0e6f64..1.0e6).prop_map(CompValue::Num),
            Just(CompValue::Null),
        ]
    }

    fn arb_op() -> impl Strategy<Value = CompareOp> {
        prop_oneof![
            Just(CompareOp::Eq),
            Just(CompareOp::Ne),
            Just(CompareOp::Co),
            Just(CompareOp::Sw),
            Just(CompareOp::Ew),
            Just(CompareOp::Gt),
            Just(CompareOp::Ge),
            Just(CompareOp::Lt),
            Just(CompareOp::Le),
        ]
    }

    fn arb_filter() -> impl Strategy<Value = Filter> {
        let leaf = prop_oneof![
            arb_path().prop_map(Filter::Present),
            (arb_path(), arb_op(), arb_value()).prop_map(|(p, o, v)| Filter::Compare(p, o, v)),
        ];
        leaf.prop_recursive(4, 32, 2, |inner| {
            prop_oneof![
                (inner.clone(), inner.clone())
                    .prop_map(|(a, b)| Filter::And(Box::new(a), Box::new(b))),
                (inner.clone(), inner.clone())
                    .prop_map(|(a, b)| Filter::Or(Box::new(a), Box::new(b))),
                inner.clone().prop_map(|a| Filter::Not(Box::new(a))),
                (
                    arb_path().prop_map(|mut p| {
                        p.sub = None;
                        p
                    }),
                    inner
                )
                    .prop_map(|(p, f)| Filter::ValuePath(p, Box::new(f))),
            ]
        })
    }

    proptest! {
        #[test]
        fn print_then_parse_is_identity(f in arb_filter()) {
            let printed = f.to_string();
            let parsed = parse_filter(&printed).map_err(|e| TestCaseError::fail(format!("{printed}: {e}")))?;
            prop_assert_eq!(parsed, f);
        }

        #[test]
        fn arbitrary_input_never_panics(s in any::<String>()) {
            let _ = parse_filter(&s);
            let _ = parse_patch_path(&s);
        }

        /// Token soup built from the grammar's own words, long and deep: never a
        /// panic, and an error is always an invalidFilter / invalidPath.
        #[test]
        fn hostile_token_soup_is_refused_cleanly(words in proptest::collection::vec(
            prop_oneof![
                Just("userName"), Just("pr"), Just("eq"), Just("\"x\""), Just("and"),
                Just("or"), Just("not"), Just("("), Just(")"), Just("["), Just("]"),
                Just("emails"), Just(".value"), Just("co"), Just("\"%_\\\\\""),
            ], 0..3000)) {
            let s = words.join(" ");
            if let Err(e) = parse_filter(&s) {
                prop_assert_eq!(e.scim_type, Some(crate::scim::ScimType::InvalidFilter));
            }
            if let Err(e) = parse_patch_path(&s) {
                prop_assert_eq!(e.scim_type, Some(crate::scim::ScimType::InvalidPath));
            }
        }
    }
}
