//! `uiommu info`'s report, as text and as JSON.

use super::Report;
use super::fields::{self, Field, Value};
use super::host::Device;
use std::fmt::Write;

/// The report for a terminal.
pub fn text(r: &Report) -> String {
    let mut s = String::new();
    let h = &r.host;
    if let Some(m) = &h.uiommu_model {
        let _ = writeln!(s, "IOMMU model: uiommu {m} (under uiommu exec)");
    }
    let _ = writeln!(s, "IOMMU units (/sys/class/iommu):");
    if h.units.is_empty() {
        let _ = writeln!(s, "  none");
    }
    let w = h.units.iter().map(|u| u.name.len()).max().unwrap_or(0);
    for u in &h.units {
        let _ = writeln!(s, "  {:w$}  {}", u.name, u.kind);
    }
    let _ = writeln!(s, "IOMMU groups (/sys/kernel/iommu_groups):");
    if h.groups.is_empty() {
        let _ = writeln!(s, "  none");
    }
    for g in &h.groups {
        let ty = g.domain_type.as_deref().unwrap_or("?");
        let _ = writeln!(s, "  {:<6} {ty:<8} {}", g.number, g.devices.join(" "));
    }
    let _ = writeln!(s, "PCI devices (/sys/bus/pci/devices):");
    if h.devices.is_empty() {
        let _ = writeln!(s, "  none");
    }
    for d in &h.devices {
        let _ = writeln!(s, "  {}", device_line(d));
    }
    for q in &r.queried {
        let cdev = q
            .cdev
            .as_ref()
            .map(|p| format!(" ({})", p.display()))
            .unwrap_or_default();
        let _ = writeln!(s, "IOMMU_GET_HW_INFO of {}{cdev}:", q.address);
        match &q.result {
            Ok(info) => s.push_str(&rows(&fields::fields(info))),
            Err(e) => {
                let _ = writeln!(s, "  error: {e}");
            }
        }
    }
    for e in &h.errors {
        let _ = writeln!(s, "warning: {e}");
    }
    s
}

/// `ADDRESS  VVVV:DDDD  class CCCCCC  group N  DRIVER  CDEV  KIND`.
fn device_line(d: &Device) -> String {
    let p = &d.pci;
    let group = p
        .iommu_group
        .map_or("no group".to_owned(), |g| format!("group {g}"));
    let driver = p.driver.as_deref().unwrap_or("no driver");
    let mut line = format!(
        "{}  {:04x}:{:04x}  class {:06x}  {group:<10}  {driver}",
        p.address, p.vendor, p.device, p.class
    );
    if let Some(c) = p.cdev_path() {
        let _ = write!(line, "  {}", c.display());
    }
    match (&d.kind, &d.unit) {
        (Some(k), Some(u)) => {
            let _ = write!(line, "  {k} ({u})");
        }
        (Some(k), None) => {
            let _ = write!(line, "  {k}");
        }
        _ => {}
    }
    line
}

/// `  NAME  VALUE  WHAT`, aligned.
fn rows(rows: &[Field]) -> String {
    let values: Vec<String> = rows.iter().map(|f| f.value.to_string()).collect();
    let wn = rows.iter().map(|f| f.name.len()).max().unwrap_or(0);
    // Long values (a list of flags) overflow the column rather than widen it.
    let wv = values.iter().map(String::len).max().unwrap_or(0).min(18);
    let mut s = String::new();
    for (f, v) in rows.iter().zip(&values) {
        let _ = writeln!(s, "  {:wn$}  {v:wv$}  {}", f.name, f.what);
    }
    s
}

/// The report as one JSON object.
pub fn json(r: &Report) -> String {
    let h = &r.host;
    let units: Vec<String> = h
        .units
        .iter()
        .map(|u| obj(&[("name", string(&u.name)), ("kind", string(u.kind))]))
        .collect();
    let groups: Vec<String> = h
        .groups
        .iter()
        .map(|g| {
            obj(&[
                ("group", g.number.to_string()),
                ("type", opt(g.domain_type.as_deref())),
                ("devices", list(g.devices.iter().map(|d| string(d)))),
            ])
        })
        .collect();
    let devices: Vec<String> = h.devices.iter().map(device_json).collect();
    let queried: Vec<String> = r
        .queried
        .iter()
        .map(|q| {
            let mut members = vec![
                ("device", string(&q.address)),
                (
                    "vfio_cdev",
                    opt(q.cdev.as_ref().map(|p| p.to_string_lossy()).as_deref()),
                ),
            ];
            match &q.result {
                Ok(info) => {
                    members.push(("kind", string(fields::kind(info.data_type))));
                    let fs = fields::fields(info);
                    let pairs: Vec<(&str, String)> =
                        fs.iter().map(|f| (f.name, value(&f.value))).collect();
                    members.push(("fields", obj(&pairs)));
                }
                Err(e) => members.push(("error", string(e))),
            }
            obj(&members)
        })
        .collect();
    let mut s = obj(&[
        ("uiommu_model", opt(h.uiommu_model.as_deref())),
        ("units", list(units)),
        ("groups", list(groups)),
        ("devices", list(devices)),
        ("hw_info", list(queried)),
        ("errors", list(h.errors.iter().map(|e| string(e)))),
    ]);
    s.push('\n');
    s
}

fn device_json(d: &Device) -> String {
    let p = &d.pci;
    obj(&[
        ("address", string(&p.address)),
        ("vendor", string(&format!("{:#06x}", p.vendor))),
        ("device", string(&format!("{:#06x}", p.device))),
        ("class", string(&format!("{:#08x}", p.class))),
        (
            "iommu_group",
            p.iommu_group.map_or("null".into(), |g| g.to_string()),
        ),
        ("driver", opt(p.driver.as_deref())),
        (
            "vfio_cdev",
            opt(p
                .cdev_path()
                .map(|c| c.to_string_lossy().into_owned())
                .as_deref()),
        ),
        ("iommu_unit", opt(d.unit.as_deref())),
        ("iommu_kind", opt(d.kind.as_deref())),
        ("emulated", d.emulated.to_string()),
    ])
}

/// A row's value: booleans and counts as JSON's, register words as `"0x…"` strings (they
/// may exceed the 53 bits a JSON number keeps exactly).
fn value(v: &Value) -> String {
    match v {
        Value::Bool(b) => b.to_string(),
        Value::Num(n) => n.to_string(),
        Value::Hex(_) | Value::Text(_) => string(&v.to_string()),
    }
}

fn obj(members: &[(&str, String)]) -> String {
    let m: Vec<String> = members
        .iter()
        .map(|(k, v)| format!("{}:{v}", string(k)))
        .collect();
    format!("{{{}}}", m.join(","))
}

fn list(items: impl IntoIterator<Item = String>) -> String {
    let v: Vec<String> = items.into_iter().collect();
    format!("[{}]", v.join(","))
}

fn opt(s: Option<&str>) -> String {
    s.map_or("null".into(), string)
}

/// A JSON string literal (RFC 8259 §7).
fn string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped() {
        assert_eq!(string("a\"b\\c\n\u{1}"), r#""a\"b\\c\n\u0001""#);
        assert_eq!(opt(None), "null");
        assert_eq!(
            obj(&[("k", list(["1".to_string(), "true".to_string()]))]),
            r#"{"k":[1,true]}"#
        );
    }
}
