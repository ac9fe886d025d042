//! ABI proof: our structs and constants against the real Linux 7.3 headers.
//!
//! A C program generated from the crate's layout registry is compiled against the uapi headers
//! installed from Debian's `linux-source-7.3` (see `scripts/kernel-source.sh`) and prints
//! `sizeof`, `offsetof` and the size of every field of every struct, and the value of every
//! constant. Each must equal ours. The headers are also scanned so that a struct or constant
//! that Linux defines and we lack is reported, unless the crate lists it as not declared, with
//! the reason (`uiommu_uapi::not_declared`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use uiommu_uapi::layout::{ConstLayout, StructLayout};

/// Header files whose every struct must be declared by us, and the C includes to use.
const HEADERS: &[&str] = &["linux/iommufd.h", "linux/vfio.h", "iommufd_test.h"];

fn header_dir() -> PathBuf {
    let candidates = std::env::var_os("UIOMMU_KHDR")
        .map(PathBuf::from)
        .into_iter()
        .chain(std::env::var_os("UIOMMU_CACHE").map(|c| Path::new(&c).join("hdr/include")))
        .chain([PathBuf::from("/var/cache/uiommu/hdr/include")])
        .chain(std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache/uiommu/hdr/include")));
    for dir in candidates {
        if dir.join("linux/iommufd.h").is_file() && dir.join("iommufd_test.h").is_file() {
            return dir;
        }
    }
    panic!(
        "Linux 7.3 uapi headers not found: run scripts/kernel-source.sh \
         (or set UIOMMU_KHDR to an include dir with linux/iommufd.h and iommufd_test.h)"
    );
}

fn c_program(structs: &[&StructLayout], consts: &[&ConstLayout]) -> String {
    let mut c = String::from(
        "#include <stdio.h>\n#include <stddef.h>\n#include <linux/types.h>\n\
         #include <linux/iommufd.h>\n#include <linux/vfio.h>\n#include \"iommufd_test.h\"\n\
         #define FIELD(s, f) printf(\"F %s %s %zu %zu\\n\", #s, #f, \
         offsetof(struct s, f), sizeof(((struct s *)0)->f))\n\
         int main(void) {\n",
    );
    for s in structs {
        c += &format!(
            "  printf(\"S {0} %zu\\n\", sizeof(struct {0}));\n",
            s.c_name
        );
        for f in s.fields {
            c += &format!("  FIELD({}, {});\n", s.c_name, f.c_path);
        }
    }
    for k in consts {
        c += &format!(
            "  printf(\"C {0} %llu\\n\", (unsigned long long)({0}));\n",
            k.c_name
        );
    }
    c + "  return 0;\n}\n"
}

/// Compiles and runs the program; returns its output lines.
fn run_c(dir: &Path, program: &str) -> String {
    let work = Path::new(env!("CARGO_TARGET_TMPDIR")).join("abi_layout");
    std::fs::create_dir_all(&work).unwrap();
    let src = work.join("layout.c");
    let bin = work.join("layout");
    std::fs::write(&src, program).unwrap();
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let out = Command::new(&cc)
        .args(["-std=gnu11", "-Wall", "-Werror", "-o"])
        .arg(&bin)
        .arg(&src)
        .arg("-I")
        .arg(dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run C compiler {cc}: {e}"));
    assert!(
        out.status.success(),
        "C layout program does not compile (a C name in the registry is wrong?):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new(&bin).output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn structs_and_constants_match_linux_7_3_headers() {
    let dir = header_dir();
    let structs: Vec<_> = uiommu_uapi::all_structs().collect();
    let consts: Vec<_> = uiommu_uapi::all_consts().collect();

    let mut names = BTreeSet::new();
    for s in &structs {
        assert!(names.insert(s.c_name), "struct {} declared twice", s.c_name);
    }
    let mut const_names = BTreeSet::new();
    for k in &consts {
        assert!(
            const_names.insert(k.c_name),
            "constant {} declared twice",
            k.c_name
        );
    }

    let output = run_c(&dir, &c_program(&structs, &consts));
    let mut c_struct_sizes = BTreeMap::new();
    let mut c_fields = BTreeMap::new();
    let mut c_consts = BTreeMap::new();
    for line in output.lines() {
        let w: Vec<&str> = line.split(' ').collect();
        match w[0] {
            "S" => drop(c_struct_sizes.insert(w[1].to_owned(), w[2].parse::<usize>().unwrap())),
            "F" => drop(c_fields.insert(
                (w[1].to_owned(), w[2].to_owned()),
                (
                    w[3].parse::<usize>().unwrap(),
                    w[4].parse::<usize>().unwrap(),
                ),
            )),
            "C" => drop(c_consts.insert(w[1].to_owned(), w[2].parse::<u64>().unwrap())),
            _ => panic!("unexpected output {line}"),
        }
    }

    let mut errors = Vec::new();
    for s in &structs {
        let c_size = c_struct_sizes[s.c_name];
        if c_size != s.size {
            errors.push(format!(
                "sizeof(struct {}): C {c_size}, ours {}",
                s.c_name, s.size
            ));
        }
        for f in s.fields {
            let (off, size) = c_fields[&(s.c_name.to_owned(), f.c_path.to_owned())];
            if (off, size) != (f.offset, f.size) {
                errors.push(format!(
                    "struct {}.{}: C offset {off} size {size}, ours offset {} size {}",
                    s.c_name, f.c_path, f.offset, f.size
                ));
            }
        }
    }
    for k in &consts {
        let c = c_consts[k.c_name];
        if c != k.value {
            errors.push(format!("{}: C {c:#x}, ours {:#x}", k.c_name, k.value));
        }
    }

    // Completeness: everything the headers define is declared (or excused).
    let excused: BTreeSet<&str> = uiommu_uapi::not_declared().map(|(n, _)| *n).collect();
    for header in HEADERS {
        let text = std::fs::read_to_string(dir.join(header)).unwrap();
        let defs = scan_header(&text);
        for name in defs.structs {
            if !names.contains(name.as_str()) && !excused.contains(name.as_str()) {
                errors.push(format!("{header}: struct {name} is not declared"));
            }
        }
        for name in defs.consts {
            if !const_names.contains(name.as_str()) && !excused.contains(name.as_str()) {
                errors.push(format!("{header}: constant {name} is not declared"));
            }
        }
    }
    for (name, why) in uiommu_uapi::not_declared() {
        assert!(!why.is_empty());
        assert!(
            !names.contains(name) && !const_names.contains(name),
            "{name} is excused but declared"
        );
    }

    assert!(
        errors.is_empty(),
        "{} ABI differences:\n{}",
        errors.len(),
        errors.join("\n")
    );
    println!(
        "checked {} structs, {} fields, {} constants against {}",
        structs.len(),
        structs.iter().map(|s| s.fields.len()).sum::<usize>(),
        consts.len(),
        dir.display()
    );
}

struct HeaderDefs {
    structs: Vec<String>,
    consts: Vec<String>,
}

/// Finds the struct tags, object-like macros and enumerators a header defines at top level.
fn scan_header(text: &str) -> HeaderDefs {
    let text = strip_comments(text);
    let mut structs = Vec::new();
    let mut consts = Vec::new();
    let mut in_enum = false;
    let mut depth = 0i32;
    for line in text.lines() {
        let t = line.trim();
        if let Some(rest) = t.strip_prefix("#define") {
            let name: String = rest
                .trim_start()
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            let function_like = rest.trim_start()[name.len()..].starts_with('(');
            if !function_like && !name.is_empty() {
                consts.push(name);
            }
            continue;
        }
        if depth == 0 {
            if let Some(rest) = t.strip_prefix("struct ") {
                if t.ends_with('{') {
                    structs.push(rest.trim_end_matches('{').trim().to_owned());
                }
            }
            in_enum = t.starts_with("enum") && t.ends_with('{');
        } else if in_enum && depth == 1 {
            let name: String = t
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                consts.push(name);
            }
        }
        depth += t.matches('{').count() as i32 - t.matches('}').count() as i32;
    }
    HeaderDefs { structs, consts }
}

fn strip_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("/*") {
        out.push_str(&rest[..start]);
        match rest[start..].find("*/") {
            Some(end) => {
                // Keep line structure.
                out.extend(rest[start..start + end].chars().filter(|&c| c == '\n'));
                rest = &rest[start + end + 2..];
            }
            None => return out,
        }
    }
    out.push_str(rest);
    out
}
