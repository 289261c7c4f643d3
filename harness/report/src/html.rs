//! One self-contained HTML page (inline CSS and JS, nothing fetched) for one report or
//! several side by side: a families × cases grid per implementation, a cases ×
//! implementations matrix (like Autobahn's index), and a detail panel that any cell opens.
//! The page opens a case's detail when its URL ends in `#case=<id>` (optionally
//! `&report=<n>`, 0-based), so links to one failure can be shared.
//!
//! The grid, matrix, totals and deviations are plain HTML written here (readable without
//! JS); the script only drives the detail panel and writes the counts it finds in the DOM
//! into `#dom-counts` (which the headless-browser test reads back).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::json;

use crate::{CaseResult, Outcome, Report, all_groups, family_rank};

const CSS: &str = r#"
:root { --pass:#1a7f37; --pass-acceptable:#6cc070; --fail:#d1242f; --unsupported:#c3cad3; --error:#d4a017;
        --dev:#6639ba; --ink:#1f2328; --muted:#59636e; --line:#d1d9e0; --bg:#f6f8fa; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif; color:var(--ink); background:#fff; }
header { padding:16px 24px; background:var(--bg); border-bottom:1px solid var(--line); }
header h1 { margin:0; font-size:20px; }
header .sub { margin:4px 0 0; color:var(--muted); }
main { padding:8px 24px 48px; max-width:1600px; }
h2 { font-size:16px; margin:24px 0 8px; }
h3 { font-size:14px; margin:14px 0 6px; }
h3 .count { color:var(--muted); font-weight:normal; }
.kdf-speed { display:block; color:var(--muted); font-style:italic; }
table { border-collapse:collapse; }
th, td { border:1px solid var(--line); padding:4px 8px; text-align:left; vertical-align:top; }
th { background:var(--bg); white-space:nowrap; }
td.num { text-align:right; font-variant-numeric:tabular-nums; }
.legend span { display:inline-flex; align-items:center; gap:4px; margin-right:14px; color:var(--muted); }
.sw { display:inline-block; width:14px; height:14px; border-radius:3px; }
.o-pass { background:var(--pass); } .o-pass-acceptable { background:var(--pass-acceptable); }
.o-fail { background:var(--fail); } .o-unsupported { background:var(--unsupported); }
.o-error { background:var(--error); }
.o-missing { background:repeating-linear-gradient(45deg,#fff 0 3px,#e6e9ed 3px 6px); }
.dev { box-shadow: inset 0 0 0 3px var(--dev); }
.agent-row { display:flex; align-items:flex-start; gap:10px; margin:3px 0; }
.agent { flex:0 0 220px; color:var(--muted); overflow:hidden; text-overflow:ellipsis; white-space:nowrap; }
.cells { display:flex; flex-wrap:wrap; gap:2px; }
a.cell { display:block; width:16px; height:16px; border-radius:3px; }
a.cell:hover, a.cell:focus, a.cell.selected { outline:2px solid var(--ink); outline-offset:1px; }
#matrix td.mcell { color:#fff; font-weight:600; white-space:nowrap; }
#matrix td.mcell a { color:inherit; text-decoration:none; display:block; }
#matrix td.o-unsupported, #matrix td.o-missing, #matrix td.o-pass-acceptable { color:var(--ink); }
#matrix tr.fam th { background:#eaeef2; }
#matrix td.id { font-family:ui-monospace,SFMono-Regular,Menlo,monospace; font-size:12px; }
#deviations li { margin:2px 0; }
code { font-family:ui-monospace,SFMono-Regular,Menlo,monospace; font-size:12px; }
#detail { position:fixed; top:0; right:0; bottom:0; width:min(460px,100%); background:#fff; border-left:1px solid var(--line);
          box-shadow:-8px 0 24px rgba(0,0,0,.12); padding:16px 20px; overflow:auto; }
#detail[hidden] { display:none; }
#detail h2 { margin-top:0; word-break:break-all; font-family:ui-monospace,SFMono-Regular,Menlo,monospace; }
#detail dt { font-weight:600; margin-top:10px; }
#detail dd { margin:2px 0 0; }
#detail pre { margin:0; padding:6px 8px; background:var(--bg); border:1px solid var(--line); border-radius:4px;
              white-space:pre-wrap; word-break:break-word; font-size:12px; }
.badge { display:inline-block; padding:1px 8px; border-radius:10px; color:#fff; font-weight:600; }
.badge.o-unsupported, .badge.o-pass-acceptable, .badge.o-missing { color:var(--ink); }
#detail-close { float:right; font-size:18px; border:1px solid var(--line); background:#fff; border-radius:4px; cursor:pointer; }
#dom-counts { color:var(--muted); }
"#;

const JS: &str = r#"
(function () {
  'use strict';
  var data = JSON.parse(document.getElementById('report-data').textContent);
  var byId = data.reports.map(function (r) {
    var m = new Map();
    r.cases.forEach(function (c) { m.set(c.id, c); });
    return m;
  });
  var panel = document.getElementById('detail');
  var body = document.getElementById('detail-body');

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function field(dl, name, value, pre) {
    dl.appendChild(el('dt', null, name));
    var dd = el('dd');
    dd.appendChild(pre ? el('pre', 'v-' + name, value === '' ? '(empty)' : value) : value);
    dl.appendChild(dd);
  }
  function show(id, ri) {
    var r = data.reports[ri];
    if (!r) return;
    var c = byId[ri].get(id);
    body.replaceChildren();
    body.appendChild(el('h2', null, id));
    var dl = el('dl');
    field(dl, 'implementation', document.createTextNode('#' + (ri + 1) + ' ' + r.label), false);
    if (!c) {
      field(dl, 'outcome', el('span', 'badge o-missing', 'not in this report'), false);
    } else {
      body.appendChild(el('p', 'title', c.title));
      field(dl, 'family', document.createTextNode(c.family), false);
      field(dl, 'outcome', el('span', 'badge o-' + c.outcome, c.outcome), false);
      field(dl, 'expected', c.expected, true);
      field(dl, 'observed', c.observed, true);
      field(dl, 'reason', c.reason, true);
      if (c.deviation !== null) field(dl, 'deviation', c.deviation, true);
    }
    body.appendChild(dl);
    panel.dataset.case = id;
    panel.dataset.report = String(ri);
    panel.hidden = false;
    document.querySelectorAll('.selected').forEach(function (e) { e.classList.remove('selected'); });
    document.querySelectorAll('a.cell').forEach(function (e) {
      if (e.dataset.case === id && e.dataset.report === String(ri)) e.classList.add('selected');
    });
  }
  function fromHash() {
    var p = new URLSearchParams(location.hash.slice(1));
    var id = p.get('case');
    if (id === null) { panel.hidden = true; return; }
    var ri = p.has('report') ? parseInt(p.get('report'), 10) : -1;
    if (!(ri >= 0 && ri < data.reports.length)) {
      ri = byId.findIndex(function (m) { return m.has(id); });
      if (ri < 0) ri = 0;
    }
    show(id, ri);
  }
  function close() {
    panel.hidden = true;
    history.replaceState(null, '', location.pathname + location.search);
  }
  document.getElementById('detail-close').addEventListener('click', close);
  document.addEventListener('keydown', function (e) { if (e.key === 'Escape') close(); });
  window.addEventListener('hashchange', fromHash);

  var counts = {};
  document.querySelectorAll('#grid a.cell').forEach(function (c) {
    counts[c.dataset.outcome] = (counts[c.dataset.outcome] || 0) + 1;
  });
  var out = document.getElementById('dom-counts');
  var parts = [];
  ['pass', 'pass-acceptable', 'fail', 'unsupported', 'error', 'missing'].forEach(function (o) {
    var n = counts[o] || 0;
    out.setAttribute('data-' + o, String(n));
    if (n) parts.push(n + ' ' + o);
  });
  out.textContent = 'grid: ' + parts.join(' · ');
  fromHash();
  document.body.setAttribute('data-ready', '1');
})();
"#;

/// Renders one page for any number of reports (1 = a single implementation's report).
pub fn render_html(reports: &[Report]) -> String {
    let mut out = String::new();
    let groups = all_groups(reports);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>backproof conformance report</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
    );
    let suites: Vec<String> = {
        let mut v: Vec<String> = reports
            .iter()
            .map(|r| format!("{} {}", r.suite.name, r.suite.version))
            .collect();
        v.dedup();
        v
    };
    let _ = writeln!(
        out,
        "<header><h1>backproof conformance report</h1><p class=\"sub\">{} implementation(s) · suite {}</p></header>\n<main>",
        reports.len(),
        escape(&suites.join(", "))
    );

    summary(&mut out, reports);
    failures(&mut out, reports);
    deviations(&mut out, reports);
    advisories(&mut out, reports);
    grid(&mut out, reports, &groups);
    matrix(&mut out, reports, &groups);

    out.push_str("</main>\n<aside id=\"detail\" hidden aria-live=\"polite\"><button id=\"detail-close\" title=\"close (Esc)\">×</button><div id=\"detail-body\"></div></aside>\n");
    let _ = writeln!(
        out,
        "<script type=\"application/json\" id=\"report-data\">{}</script>",
        script_json(&page_data(reports))
    );
    let _ = writeln!(out, "<script>{JS}</script>\n</body>\n</html>");
    out
}

fn summary(out: &mut String, reports: &[Report]) {
    out.push_str("<section id=\"summary\"><h2>Implementations</h2>\n<table><thead><tr><th>#</th><th>server</th><th>client</th><th>stack</th><th>suite</th>");
    for o in Outcome::ALL {
        let _ = write!(
            out,
            "<th><span class=\"sw o-{o}\"></span> {o}</th>",
            o = o.as_str()
        );
    }
    out.push_str("<th>total</th><th>deviations</th></tr></thead><tbody>\n");
    for (i, r) in reports.iter().enumerate() {
        let _ = write!(
            out,
            "<tr data-report=\"{i}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} {}<br><code title=\"vectors digest\">{}</code> <code title=\"scenarios digest\">{}</code></td>",
            i + 1,
            escape(&r.target.server),
            escape(&r.target.client),
            escape(&r.stack),
            escape(&r.suite.name),
            escape(&r.suite.version),
            escape(&r.suite.vectors_digest),
            escape(&r.suite.scenarios_digest),
        );
        for o in Outcome::ALL {
            let _ = write!(
                out,
                "<td class=\"num\" data-outcome=\"{}\">{}</td>",
                o.as_str(),
                r.totals.get(o)
            );
        }
        let _ = writeln!(
            out,
            "<td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            r.totals.total(),
            r.deviations.len()
        );
    }
    out.push_str("</tbody></table>\n<p class=\"legend\">");
    for o in Outcome::ALL {
        let _ = write!(
            out,
            "<span><i class=\"sw o-{o}\"></i>{o}</span>",
            o = o.as_str()
        );
    }
    out.push_str("<span><i class=\"sw o-missing\"></i>not in that report</span><span><i class=\"sw o-pass dev\"></i>known deviation</span></p>\n");
    out.push_str("<p id=\"dom-counts\"></p>\n</section>\n");
}

/// Failing cases (not covered by a deviation) listed up front, with expected vs observed.
fn failures(out: &mut String, reports: &[Report]) {
    if reports.iter().all(|r| r.unexcused_failures().is_empty()) {
        return;
    }
    out.push_str("<section id=\"failures\"><h2>Failures</h2>\n<table><thead><tr><th>#</th><th>case</th><th>outcome</th><th>expected</th><th>observed</th><th>reason</th></tr></thead><tbody>\n");
    for (i, r) in reports.iter().enumerate() {
        for c in r.unexcused_failures() {
            let _ = writeln!(
                out,
                "<tr class=\"failure\"><td>{}</td><td class=\"id\"><a href=\"#{}\"><code>{}</code></a></td><td><span class=\"badge o-{o}\">{o}</span></td><td>{}</td><td>{}</td><td>{}</td></tr>",
                i + 1,
                escape(&case_href(&c.id, i)),
                escape(&c.id),
                escape(&c.expected),
                escape(&c.observed),
                escape(&c.reason),
                o = c.outcome.as_str(),
            );
        }
    }
    out.push_str("</tbody></table>\n</section>\n");
}

fn deviations(out: &mut String, reports: &[Report]) {
    if reports.iter().all(|r| r.deviations.is_empty()) {
        return;
    }
    out.push_str("<section id=\"deviations\"><h2>Known deviations</h2>\n");
    for (i, r) in reports.iter().enumerate() {
        if r.deviations.is_empty() {
            continue;
        }
        let _ = writeln!(out, "<h3>#{} {}</h3><ul>", i + 1, escape(&r.label()));
        let stale = r.stale_deviations();
        for d in &r.deviations {
            let outcome = r
                .case(&d.case)
                .map(|c| c.outcome.as_str())
                .unwrap_or("not in this run");
            // A stale entry is shown, marked, so it gets deleted rather than forgotten.
            let note = stale
                .iter()
                .find(|(s, _)| s.case == d.case)
                .map(|(_, why)| format!(" <b class=\"stale\">stale: {}</b>", escape(why)))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "<li class=\"deviation\"><a href=\"#{}\"><code>{}</code></a> ({}): {}{note}</li>",
                escape(&case_href(&d.case, i)),
                escape(&d.case),
                outcome,
                escape(&d.reason)
            );
        }
        out.push_str("</ul>\n");
    }
    out.push_str("</section>\n");
}

/// Known weaknesses of the designs checked, per report: never failures.
fn advisories(out: &mut String, reports: &[Report]) {
    if reports.iter().all(|r| r.advisories.is_empty()) {
        return;
    }
    out.push_str("<section id=\"advisories\"><h2>Advisories</h2>\n<p class=\"legend\">Known weaknesses of the designs checked. Not failures: the cases that show them passed.</p>\n");
    for (i, r) in reports.iter().enumerate() {
        if r.advisories.is_empty() {
            continue;
        }
        let _ = writeln!(out, "<h3>#{} {}</h3><ul>", i + 1, escape(&r.label()));
        for a in &r.advisories {
            let shown: Vec<String> = a
                .shown_by
                .iter()
                .map(|c| {
                    format!(
                        "<a href=\"#{}\"><code>{}</code></a>",
                        escape(&case_href(c, i)),
                        escape(c)
                    )
                })
                .collect();
            let measured = match r.kdf_speed_for(a) {
                Some(k) => format!(
                    " <span class=\"kdf-speed\">{}</span>",
                    escape(&k.report_line())
                ),
                None => String::new(),
            };
            let _ = writeln!(
                out,
                "<li class=\"advisory\" data-advisory=\"{}\" data-profile=\"{}\"><b>{}</b> <code>{}</code> — {}: {}{}{}</li>",
                escape(&a.id),
                escape(&a.profile),
                escape(&a.profile),
                escape(&a.id),
                escape(&a.title),
                escape(&a.detail),
                measured,
                if shown.is_empty() {
                    String::new()
                } else {
                    format!(
                        " <span class=\"count\">shown by {}</span>",
                        shown.join(", ")
                    )
                }
            );
        }
        out.push_str("</ul>\n");
    }
    out.push_str("</section>\n");
}

/// The heading of a (profile, family) group: the family alone when every group is v1.
fn group_label(groups: &[(String, String)], profile: &str, family: &str) -> String {
    if groups.iter().all(|(p, _)| p == "v1") {
        family.to_string()
    } else {
        format!("{profile} · {family}")
    }
}

fn grid(out: &mut String, reports: &[Report], groups: &[(String, String)]) {
    out.push_str("<section id=\"grid\"><h2>Families × cases</h2>\n");
    let indexed: Vec<BTreeMap<&str, &CaseResult>> = reports
        .iter()
        .map(|r| r.cases.iter().map(|c| (c.id.as_str(), c)).collect())
        .collect();
    for (profile, family) in groups {
        // Union of the group's case ids over all reports, so columns line up.
        let mut ids: Vec<&str> = reports
            .iter()
            .flat_map(|r| r.cases.iter())
            .filter(|c| &c.family == family && c.profile() == profile)
            .map(|c| c.id.as_str())
            .collect();
        ids.sort_unstable();
        ids.dedup();
        let _ = writeln!(
            out,
            "<div class=\"family\" data-family=\"{}\" data-profile=\"{}\"><h3>{} <span class=\"count\">{} case(s)</span></h3>",
            escape(family),
            escape(profile),
            escape(&group_label(groups, profile, family)),
            ids.len()
        );
        for (ri, r) in reports.iter().enumerate() {
            let _ = write!(
                out,
                "<div class=\"agent-row\"><span class=\"agent\" title=\"{label}\">#{} {label}</span><div class=\"cells\">",
                ri + 1,
                label = escape(&r.label())
            );
            for id in &ids {
                let (outcome, dev) = match indexed[ri].get(id) {
                    Some(c) => (c.outcome.as_str(), r.deviation(id).is_some()),
                    None => ("missing", false),
                };
                let _ = write!(
                    out,
                    "<a class=\"cell o-{outcome}{}\" href=\"#{}\" data-case=\"{}\" data-report=\"{ri}\" data-outcome=\"{outcome}\" title=\"{}: {outcome}{}\"></a>",
                    if dev { " dev" } else { "" },
                    escape(&case_href(id, ri)),
                    escape(id),
                    escape(id),
                    if dev { " (known deviation)" } else { "" },
                );
            }
            out.push_str("</div></div>\n");
        }
        out.push_str("</div>\n");
    }
    out.push_str("</section>\n");
}

fn matrix(out: &mut String, reports: &[Report], groups: &[(String, String)]) {
    out.push_str("<section id=\"matrix\"><h2>Cases × implementations</h2>\n<table><thead><tr><th>case</th><th>title</th>");
    for (i, r) in reports.iter().enumerate() {
        let _ = write!(out, "<th>#{} {}</th>", i + 1, escape(&r.label()));
    }
    out.push_str("</tr></thead><tbody>\n");
    let mut rows: BTreeMap<(&str, usize, &str, &str), &str> = BTreeMap::new();
    for r in reports {
        for c in &r.cases {
            rows.entry((
                c.profile(),
                family_rank(&c.family),
                c.family.as_str(),
                c.id.as_str(),
            ))
            .or_insert(c.title.as_str());
        }
    }
    // The profile axis: one block of rows per (profile, family).
    for (profile, family) in groups {
        let _ = writeln!(
            out,
            "<tr class=\"fam\" data-profile=\"{}\"><th colspan=\"{}\">{}</th></tr>",
            escape(profile),
            reports.len() + 2,
            escape(&group_label(groups, profile, family))
        );
        for ((p, _, f, id), title) in &rows {
            if f != family || p != profile {
                continue;
            }
            let _ = write!(
                out,
                "<tr><td class=\"id\">{}</td><td>{}</td>",
                escape(id),
                escape(title)
            );
            for (ri, r) in reports.iter().enumerate() {
                let (outcome, dev) = match r.case(id) {
                    Some(c) => (c.outcome.as_str(), r.deviation(id).is_some()),
                    None => ("missing", false),
                };
                let _ = write!(
                    out,
                    "<td class=\"mcell o-{outcome}{}\"><a href=\"#{}\">{}{}</a></td>",
                    if dev { " dev" } else { "" },
                    escape(&case_href(id, ri)),
                    if outcome == "missing" { "—" } else { outcome },
                    if dev { " (deviation)" } else { "" }
                );
            }
            out.push_str("</tr>\n");
        }
    }
    out.push_str("</tbody></table>\n</section>\n");
}

fn page_data(reports: &[Report]) -> serde_json::Value {
    json!({
        "reports": reports.iter().map(|r| json!({
            "label": r.label(),
            "cases": r.cases.iter().map(|c| json!({
                "id": c.id,
                "family": c.family,
                "title": c.title,
                "outcome": c.outcome,
                "expected": c.expected,
                "observed": c.observed,
                "reason": c.reason,
                "deviation": r.deviation(&c.id).map(|d| d.reason.clone()),
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}

/// JSON safe inside `<script>`: `<`, `>` and `&` only occur inside JSON strings, where
/// their `\u` escapes mean the same, so no `</script>` or `<!--` can end the element.
fn script_json(v: &serde_json::Value) -> String {
    let s = serde_json::to_string(v).expect("a JSON value always serializes");
    s.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

/// `case=<id>&report=<n>` with the id percent-encoded for `URLSearchParams` (which reads
/// `+` as a space, so it is encoded too).
fn case_href(id: &str, report: usize) -> String {
    let mut s = String::from("case=");
    for b in id.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~/:".contains(&b) {
            s.push(b as char);
        } else {
            let _ = write!(s, "%{b:02X}");
        }
    }
    let _ = write!(s, "&report={report}");
    s
}

pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
