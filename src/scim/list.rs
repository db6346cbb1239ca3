//! List and search parameters (RFC 7644 §3.4.2, §3.4.3): the same struct whether they came
//! from a query string or a `POST /.search` body.

use super::error::ScimError;
use super::filter::{parse_filter, Filter};
use super::json::get_ci;
use serde_json::Value;

#[derive(Clone, Debug, PartialEq)]
pub struct ListParams {
    pub filter: Option<Filter>,
    /// 1-based; values below 1 are taken as 1 (§3.4.2.4).
    pub start_index: u64,
    pub count: u64,
    pub sort_by: Option<String>,
    pub descending: bool,
    pub attributes: Option<String>,
    pub excluded_attributes: Option<String>,
}

impl ListParams {
    /// From raw key/value pairs (query string). Keys are case-insensitive; unknown keys
    /// (Entra's `aadOptscim062020`) are ignored.
    pub fn from_pairs<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
        default_count: u64,
        max_count: u64,
    ) -> Result<ListParams, ScimError> {
        let mut p = ListParams {
            filter: None,
            start_index: 1,
            count: default_count.min(max_count),
            sort_by: None,
            descending: false,
            attributes: None,
            excluded_attributes: None,
        };
        for (k, v) in pairs {
            match k.to_ascii_lowercase().as_str() {
                "filter" if !v.trim().is_empty() => p.filter = Some(parse_filter(v)?),
                "startindex" => p.start_index = parse_int(k, v)?.max(1) as u64,
                "count" => p.count = (parse_int(k, v)?.max(0) as u64).min(max_count),
                "sortby" if !v.is_empty() => p.sort_by = Some(v.to_string()),
                "sortorder" => p.descending = parse_order(v)?,
                "attributes" if !v.is_empty() => p.attributes = Some(v.to_string()),
                "excludedattributes" if !v.is_empty() => {
                    p.excluded_attributes = Some(v.to_string())
                }
                _ => {}
            }
        }
        Ok(p)
    }

    /// From a SearchRequest body (§3.4.3).
    pub fn from_search_body(
        body: &Value,
        default_count: u64,
        max_count: u64,
    ) -> Result<ListParams, ScimError> {
        let obj = body
            .as_object()
            .ok_or_else(|| ScimError::invalid_syntax("The search request must be a JSON object"))?;
        let mut pairs: Vec<(String, String)> = Vec::new();
        for key in ["filter", "startIndex", "count", "sortBy", "sortOrder"] {
            match get_ci(obj, key) {
                None | Some(Value::Null) => {}
                Some(Value::String(s)) => pairs.push((key.into(), s.clone())),
                Some(Value::Number(n)) => pairs.push((key.into(), n.to_string())),
                Some(_) => {
                    return Err(ScimError::invalid_value(format!(
                        "'{key}' has the wrong type"
                    )))
                }
            }
        }
        for key in ["attributes", "excludedAttributes"] {
            match get_ci(obj, key) {
                None | Some(Value::Null) => {}
                Some(Value::Array(a)) => {
                    let joined: Vec<&str> = a.iter().filter_map(Value::as_str).collect();
                    pairs.push((key.into(), joined.join(",")));
                }
                Some(Value::String(s)) => pairs.push((key.into(), s.clone())),
                Some(_) => {
                    return Err(ScimError::invalid_value(format!(
                        "'{key}' must be a list of attribute names"
                    )))
                }
            }
        }
        Self::from_pairs(
            pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            default_count,
            max_count,
        )
    }
}

fn parse_int(k: &str, v: &str) -> Result<i64, ScimError> {
    v.trim()
        .parse::<i64>()
        .map_err(|_| ScimError::invalid_value(format!("'{k}' must be an integer, got '{v}'")))
}

fn parse_order(v: &str) -> Result<bool, ScimError> {
    match v.to_ascii_lowercase().as_str() {
        "" | "ascending" => Ok(false),
        "descending" => Ok(true),
        _ => Err(ScimError::invalid_value(
            "'sortOrder' must be 'ascending' or 'descending'",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_bounds_and_unknown_keys() {
        let p = ListParams::from_pairs(
            [
                ("aadOptscim062020", ""),
                ("startIndex", "0"),
                ("count", "5000"),
            ],
            100,
            1000,
        )
        .unwrap();
        assert_eq!((p.start_index, p.count), (1, 1000));
        let p = ListParams::from_pairs([("COUNT", "0"), ("startindex", "-3")], 100, 1000).unwrap();
        assert_eq!((p.start_index, p.count), (1, 0));
        assert!(ListParams::from_pairs([("count", "ten")], 100, 1000).is_err());
        assert!(ListParams::from_pairs([("filter", "userName eq")], 100, 1000).is_err());
        assert!(ListParams::from_pairs([("sortOrder", "sideways")], 100, 1000).is_err());
    }

    #[test]
    fn search_body() {
        let p = ListParams::from_search_body(&json!({"schemas": [], "filter": "userName eq \"a\"", "startIndex": 2, "count": 10, "attributes": ["userName"]}), 100, 1000).unwrap();
        assert_eq!((p.start_index, p.count), (2, 10));
        assert!(p.filter.is_some());
        assert_eq!(p.attributes.as_deref(), Some("userName"));
    }
}
