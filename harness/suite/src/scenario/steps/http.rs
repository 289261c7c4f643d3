//! The `http` step: a raw request straight to the server (not through the client proxy,
//! so it never counts as a step of an operation).

use serde_json::Value;

use super::{clip, sha256_hex};
use crate::scenario::model::{AuthMode, BodyDef, Step};
use crate::scenario::verdict::{StepResult, Verdict};
use crate::scenario::world::{World, http_client};

pub(super) async fn run(world: &World, step: &Step) -> StepResult {
    let Step::Http {
        user,
        auth,
        method,
        path,
        headers,
        body,
        status,
        expect_headers,
        problem,
        json: json_members,
        body_equals,
        save_body,
    } = step
    else {
        return Err(Verdict::Error("not an http step".into()));
    };
    let url = format!("{}{}", world.server_url().await, path);
    let m = reqwest::Method::from_bytes(method.as_bytes())
        .map_err(|_| Verdict::Error(format!("bad method {method}")))?;
    let mut req = http_client().request(m, &url);
    let token = match user {
        Some(u) => Some(world.token(u).await?),
        None => None,
    };
    match (auth, &token) {
        (AuthMode::Token, Some(t)) => req = req.header("authorization", format!("Bearer {t}")),
        (AuthMode::None, _) | (AuthMode::Token, None) => {}
        (AuthMode::Garbage, _) => req = req.header("authorization", "Bearer not-a-token"),
        (AuthMode::WrongScheme, Some(t)) => req = req.header("authorization", format!("Basic {t}")),
        (AuthMode::Forged, Some(t)) => {
            // Same user, a MAC that is not the server's.
            let cut = t.rfind('.').map(|i| i + 1).unwrap_or(t.len());
            req = req.header(
                "authorization",
                format!(
                    "Bearer {}AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                    &t[..cut]
                ),
            );
        }
        (AuthMode::WrongScheme | AuthMode::Forged, None) => {
            return Err(Verdict::Error(format!(
                "auth {auth:?} changes a user's token: the step needs a `user`"
            )));
        }
    }
    for (k, v) in headers {
        req = req.header(k.as_str(), v.as_str());
    }
    let mut sent_body: Option<Vec<u8>> = None;
    if let Some(b) = body {
        let bytes = body_bytes(b)?;
        sent_body = Some(bytes.clone());
        if b.chunked {
            let chunks: Vec<Result<bytes::Bytes, std::io::Error>> = bytes
                .chunks(64 * 1024)
                .map(|c| Ok(bytes::Bytes::copy_from_slice(c)))
                .collect();
            req = req.body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)));
        } else {
            req = req.body(bytes);
        }
    }
    let resp = match req.send().await {
        Ok(r) => r,
        Err(e) => {
            return Err(Verdict::fail(
                format!("HTTP {}", status.first().copied().unwrap_or(0)),
                "no answer",
                e.to_string(),
            ));
        }
    };
    let code = resp.status().as_u16();
    let got_headers = resp.headers().clone();
    let text = resp.bytes().await.unwrap_or_default().to_vec();
    let desc = format!("{method} {path}");
    let expected_status = status
        .iter()
        .map(|s| s.to_string())
        .collect::<Vec<_>>()
        .join(" or ");
    let Some(pos) = status.iter().position(|s| *s == code) else {
        return Err(Verdict::fail(
            format!("{desc} → {expected_status}"),
            format!("{code} {}", clip(&String::from_utf8_lossy(&text))),
            "status",
        ));
    };
    for (name, want) in expect_headers {
        let got = got_headers.get(name.as_str()).and_then(|v| v.to_str().ok());
        let ok = match got {
            Some(g) => want == "*" || g == want,
            None => false,
        };
        if !ok {
            return Err(Verdict::fail(
                format!("{desc}: header {name}: {want}"),
                format!("{name}: {}", got.unwrap_or("(absent)")),
                "response header",
            ));
        }
    }
    if let Some(ptype) = problem {
        let ct = got_headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !ct.starts_with("application/problem+json") {
            return Err(Verdict::fail(
                format!("{desc}: application/problem+json"),
                format!("content-type {ct:?}"),
                "every error is a problem+json body",
            ));
        }
        let v: Value = serde_json::from_slice(&text).unwrap_or(Value::Null);
        let fields_ok = v["title"].is_string()
            && v["detail"].is_string()
            && v["status"].as_u64() == Some(u64::from(code));
        if v["type"].as_str() != Some(ptype) || !fields_ok {
            return Err(Verdict::fail(
                format!("problem {{type: {ptype}, title, status: {code}, detail}}"),
                clip(&String::from_utf8_lossy(&text)),
                "problem body",
            ));
        }
    }
    if !json_members.is_empty() {
        let v: Value = serde_json::from_slice(&text).unwrap_or(Value::Null);
        for (k, want) in json_members {
            let got = &v[k.as_str()];
            let got_text = got
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| got.to_string());
            if got.is_null() || (want != "*" && &got_text != want) {
                return Err(Verdict::fail(
                    format!("{desc}: JSON member {k} = {want}"),
                    clip(&String::from_utf8_lossy(&text)),
                    "response body",
                ));
            }
            if want == "*"
                && k == "sha256"
                && let Some(b) = &sent_body
                && got_text != sha256_hex(b)
            {
                return Err(Verdict::fail(
                    "sha256 of the uploaded body",
                    got_text,
                    "response body sha256",
                ));
            }
        }
    }
    if let Some(label) = body_equals {
        let saved = world
            .saved
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(label)
            .cloned();
        if saved.as_deref() != Some(&text[..]) {
            return Err(Verdict::fail(
                format!("{desc}: the body saved as {label}"),
                format!("{} bytes, sha256 {}", text.len(), sha256_hex(&text)),
                "body",
            ));
        }
    }
    if let Some(label) = save_body {
        let b = if method.eq_ignore_ascii_case("POST") {
            sent_body.unwrap_or_default()
        } else {
            text
        };
        world
            .saved
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(label.clone(), b);
    }
    if pos > 0 {
        Ok(Some(format!(
            "{desc} → {code} (accepted alternative to {})",
            status[0]
        )))
    } else {
        Ok(None)
    }
}

fn body_bytes(b: &BodyDef) -> Result<Vec<u8>, Verdict> {
    if let Some(t) = &b.text {
        return Ok(t.as_bytes().to_vec());
    }
    if let Some(h) = &b.hex {
        return hex::decode(h).map_err(|e| Verdict::Error(format!("body hex: {e}")));
    }
    if let Some(n) = b.random_len {
        // Deterministic filler: the server never looks inside a blob.
        let mut out = Vec::with_capacity(n);
        let mut x: u32 = 0x9e37_79b9;
        while out.len() < n {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            out.push(x as u8);
        }
        return Ok(out);
    }
    Ok(Vec::new())
}
