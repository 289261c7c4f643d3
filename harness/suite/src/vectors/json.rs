//! A canonical JSON writer: keys sorted, two-space indentation, one test per block. The
//! files must be byte-identical on every run whatever serde_json features the build
//! unifies (`preserve_order` would change key order), so they are not written by serde.

use serde_json::Value;

pub fn to_canonical(value: &Value) -> String {
    let mut out = String::new();
    write(value, 0, &mut out);
    out.push('\n');
    out
}

fn write(value: &Value, indent: usize, out: &mut String) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push_str("{\n");
            for (i, k) in keys.iter().enumerate() {
                pad(indent + 1, out);
                out.push_str(&Value::String((*k).clone()).to_string());
                out.push_str(": ");
                write(&map[k.as_str()], indent + 1, out);
                if i + 1 < keys.len() {
                    out.push(',');
                }
                out.push('\n');
            }
            pad(indent, out);
            out.push('}');
        }
        // Short scalar lists (flags, tried ids) stay on one line.
        Value::Array(items) if !items.is_empty() && items.iter().any(|v| v.is_object()) => {
            out.push_str("[\n");
            for (i, v) in items.iter().enumerate() {
                pad(indent + 1, out);
                write(v, indent + 1, out);
                if i + 1 < items.len() {
                    out.push(',');
                }
                out.push('\n');
            }
            pad(indent, out);
            out.push(']');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write(v, indent, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

fn pad(indent: usize, out: &mut String) {
    for _ in 0..indent {
        out.push_str("  ");
    }
}
