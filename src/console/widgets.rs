//! Small shared pieces of the console: times in the viewer's zone, badges, copy buttons,
//! empty states and the hourly chart.

use leptos::prelude::*;

/// `YYYY-MM-DD HH:MM UTC` from Unix ms, without a date library (civil-from-days).
pub fn utc_text(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        rem / 3600,
        (rem % 3600) / 60
    )
}

/// "3 min ago", "2 h ago", "5 d ago" for the past; "in 3 min", "in 2 h", "in 3 days" for the
/// future (an expiry): used once hydrated, the server renders UTC. Within a minute either
/// way it is "just now", so a clock a few seconds off does not say "in 0 min". Amounts are
/// rounded to the nearest unit: a token that expires in 3 days, read a few seconds after it
/// was made, says "in 3 days", not "in 2 days".
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
pub fn relative(ms: i64, now: i64) -> String {
    let s = (now - ms) / 1000;
    if s.abs() < 60 {
        return "just now".into();
    }
    let a = s.unsigned_abs();
    let round = |unit: u64| (a + unit / 2) / unit;
    let (n, unit) = if round(60) < 60 {
        (round(60), "min")
    } else if round(3600) < 24 {
        (round(3600), "h")
    } else {
        (round(86_400), "d")
    };
    if s > 0 {
        format!("{n} {unit} ago")
    } else {
        let unit = match (unit, n) {
            ("d", 1) => "day",
            ("d", _) => "days",
            (u, _) => u,
        };
        format!("in {n} {unit}")
    }
}

/// A time: rendered in UTC on the server, then in the viewer's time zone with a relative
/// hint once the page is hydrated.
#[component]
pub fn Time(ms: i64) -> impl IntoView {
    let text = RwSignal::new(utc_text(ms));
    Effect::new(move |_| {
        #[cfg(feature = "hydrate")]
        {
            let d = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ms as f64));
            let local: String = d
                .to_locale_string("default", &wasm_bindgen::JsValue::UNDEFINED)
                .into();
            text.set(format!(
                "{local} ({})",
                relative(ms, js_sys::Date::now() as i64)
            ));
        }
    });
    view! { <time datetime=ms.to_string() title=utc_text(ms)>{move || text.get()}</time> }
}

/// Who owns a user or team: "Managed by Okta" (the provider that pushed it, the one term
/// the console uses for this everywhere) or "Console" for records made here.
#[component]
pub fn ManagedBadge(by: Option<String>) -> impl IntoView {
    match by {
        Some(by) => view! {
            <span class="badge badge-sso" data-testid="sso-badge" title="Changed in the identity provider, not here">
                {managed_by_text(&by)}
            </span>
        }
        .into_any(),
        None => view! { <span class="badge">"Console"</span> }.into_any(),
    }
}

/// "Managed by Okta": the badge's words, also for sentences that start with them.
pub fn managed_by_text(provider: &str) -> String {
    format!("Managed by {provider}")
}

#[component]
pub fn StatusPill(status: i64) -> impl IntoView {
    let class = match status {
        0..=399 => "pill pill-ok",
        400..=499 => "pill pill-warn",
        _ => "pill pill-bad",
    };
    view! { <span class=class>{status}</span> }
}

/// The submit button of a form whose answer is a secret shown once (a token, a key, a
/// signing secret, an invitation code). It stays disabled until the page is hydrated: a
/// plain HTML post of such a form (before the WASM has loaded, or without JavaScript)
/// would create the secret and answer with a redirect back, dropping it. Also disabled
/// while `pending`.
#[component]
pub fn SecretSubmit(#[prop(into)] pending: Signal<bool>, children: Children) -> impl IntoView {
    let hydrated = RwSignal::new(false);
    // Effects run only in the browser, after hydration.
    Effect::new(move |_| hydrated.set(true));
    view! {
        <button type="submit" class="btn btn-primary" data-needs-script="true" disabled=move || !hydrated.get() || pending.get()>
            {children()}
        </button>
    }
}

/// A button that copies `text` to the clipboard.
#[component]
pub fn CopyButton(
    #[prop(into)] text: String,
    #[prop(optional, into)] label: Option<String>,
) -> impl IntoView {
    let copied = RwSignal::new(false);
    let label = label.unwrap_or_else(|| "Copy".into());
    let on_click = move |_| {
        #[cfg(not(feature = "hydrate"))]
        let _ = &text;
        #[cfg(feature = "hydrate")]
        if let Some(w) = web_sys::window() {
            let _ = w.navigator().clipboard().write_text(&text);
        }
        copied.set(true);
    };
    view! {
        <button type="button" class="btn btn-ghost btn-small" on:click=on_click>
            {move || if copied.get() { "Copied".to_string() } else { label.clone() }}
        </button>
    }
}

/// A secret generated for the admin (SCIM token, invitation code, application key, webhook
/// signing secret): shown in this one place, once, with a copy button. It lives only in the
/// page's memory; nothing fetches it again.
#[component]
pub fn SecretReveal(
    /// What to do with it, e.g. "Copy this token now. It will not be shown again."
    #[prop(into)]
    title: String,
    #[prop(into)] secret: String,
    /// data-testid of the box.
    #[prop(into)]
    testid: String,
    /// data-testid of the secret itself.
    #[prop(into)]
    secret_testid: String,
    #[prop(optional)] children: Option<Children>,
) -> impl IntoView {
    view! {
        <div class="secret" role="status" data-testid=testid>
            <p><strong>{title}</strong></p>
            <div class="copy-row">
                <code class="url" data-testid=secret_testid>{secret.clone()}</code>
                <CopyButton text=secret/>
            </div>
            {children.map(|c| c())}
        </div>
    }
}

/// "Saved" next to a form's button once its action succeeded, until it is sent again.
#[component]
pub fn Saved(
    #[prop(into)] done: Signal<bool>,
    #[prop(optional, into)] text: Option<String>,
) -> impl IntoView {
    let text = text.unwrap_or_else(|| "Saved".into());
    view! {
        <span class="saved" role="status" data-testid="saved">
            {move || done.get().then(|| format!("✓ {text}"))}
        </span>
    }
}

/// Empties `form` each time `succeeded` turns true (its action's newest result is Ok): the
/// next entry starts from a clean form, and nothing typed lingers after it was saved.
pub fn reset_on_success(
    form: NodeRef<leptos::html::Form>,
    succeeded: impl Fn() -> bool + Send + Sync + 'static,
) {
    Effect::new(move |_| {
        if succeeded() {
            if let Some(f) = form.get_untracked() {
                f.reset();
            }
        }
    });
}

#[component]
pub fn Empty(#[prop(into)] title: String, children: Children) -> impl IntoView {
    view! {
        <div class="empty">
            <h3>{title}</h3>
            <div class="muted">{children()}</div>
        </div>
    }
}

/// Requests per hour over the last day; errors stacked in red.
#[component]
pub fn HourlyChart(hours: Vec<super::api::HourView>, now: i64) -> impl IntoView {
    let start = (now / 3_600_000 - 23) * 3_600_000;
    let buckets: Vec<(i64, i64)> = (0..24)
        .map(|i| {
            let h = start + i * 3_600_000;
            hours
                .iter()
                .find(|x| x.hour == h)
                .map(|x| (x.total, x.errors))
                .unwrap_or((0, 0))
        })
        .collect();
    let max = buckets.iter().map(|b| b.0).max().unwrap_or(0).max(1);
    let total: i64 = buckets.iter().map(|b| b.0).sum();
    let errors: i64 = buckets.iter().map(|b| b.1).sum();
    let rate = if total == 0 {
        0.0
    } else {
        errors as f64 * 100.0 / total as f64
    };
    view! {
        <figure class="chart">
            <svg viewBox="0 0 240 60" role="img" aria-label=format!("{total} requests in 24 hours, {rate:.1}% errors")>
                {buckets
                    .iter()
                    .enumerate()
                    .map(|(i, (t, e))| {
                        let h = (*t as f64 / max as f64 * 56.0).max(if *t > 0 { 1.0 } else { 0.0 });
                        let eh = (*e as f64 / max as f64 * 56.0).max(if *e > 0 { 1.0 } else { 0.0 });
                        let x = i as f64 * 10.0 + 1.0;
                        view! {
                            <rect x=x y=60.0 - h width="8" height=h class="bar"></rect>
                            <rect x=x y=60.0 - eh width="8" height=eh class="bar-error"></rect>
                        }
                    })
                    .collect_view()}
            </svg>
            <figcaption>
                <strong data-testid="requests-24h">{total}</strong>
                " requests in the last 24 h · "
                <strong>{format!("{rate:.1}%")}</strong>
                " errors"
            </figcaption>
        </figure>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_and_relative_text() {
        assert_eq!(utc_text(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc_text(1_700_000_000_123), "2023-11-14 22:13 UTC");
        assert_eq!(relative(0, 180_000), "3 min ago");
        assert_eq!(relative(0, 7_200_000), "2 h ago");
        assert_eq!(relative(0, 3 * 86_400_000), "3 d ago");
        assert_eq!(relative(0, 30_000), "just now");
        assert_eq!(relative(0, 179_000), "3 min ago");
    }

    #[test]
    fn future_times_read_in_so_much_time() {
        let now = 1_700_000_000_000;
        assert_eq!(relative(now + 3 * 86_400_000 + 5_000, now), "in 3 days");
        assert_eq!(relative(now + 3 * 86_400_000 - 5_000, now), "in 3 days");
        assert_eq!(relative(now + 3_599_000, now), "in 1 h");
        assert_eq!(relative(now + 86_400_000, now), "in 1 day");
        assert_eq!(relative(now + 2 * 3_600_000, now), "in 2 h");
        assert_eq!(relative(now + 5 * 60_000, now), "in 5 min");
        assert_eq!(relative(now + 20_000, now), "just now");
        assert_eq!(relative(now - 20_000, now), "just now");
    }
}
