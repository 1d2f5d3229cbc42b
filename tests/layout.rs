//! The source tree's shape, checked on every test run (issue 9's "done
//! when"): no function in `src/` over 150 lines and none in `src/cli/`
//! over 80; no file outside `src/cli/` and `src/main.rs` names
//! `crate::cli`; no import circle between files. Parsed with syn, so
//! braces in strings and comments cannot fool the count. `LAYOUT_DEBUG=1`
//! prints every import edge found.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use syn::spanned::Spanned;
use syn::visit::Visit;

const MAX_FN_LINES: usize = 150;
const MAX_CLI_FN_LINES: usize = 80;

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file under `src/`, relative to it.
fn files() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|e| e == "rs") {
                out.push(p.strip_prefix(src()).unwrap().to_path_buf());
            }
        }
    }
    let mut out = Vec::new();
    walk(&src(), &mut out);
    out.sort();
    out
}

fn parse(rel: &Path) -> syn::File {
    let text = std::fs::read_to_string(src().join(rel)).unwrap();
    syn::parse_file(&text).unwrap_or_else(|e| panic!("{}: {e}", rel.display()))
}

/// The module path of a file: `execute/mod.rs` → `["execute"]`.
fn module_of(rel: &Path) -> Vec<String> {
    let mut parts: Vec<String> = rel
        .with_extension("")
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

struct Functions<'a> {
    lines: &'a mut Vec<(String, usize)>,
}

impl Functions<'_> {
    fn note(&mut self, name: &syn::Ident, start: proc_macro2::Span, end: proc_macro2::Span) {
        let lines = end.end().line - start.start().line + 1;
        self.lines.push((name.to_string(), lines));
    }
}

impl<'ast> Visit<'ast> for Functions<'_> {
    fn visit_item_fn(&mut self, f: &'ast syn::ItemFn) {
        self.note(&f.sig.ident, f.sig.span(), f.block.span());
        syn::visit::visit_item_fn(self, f);
    }
    fn visit_impl_item_fn(&mut self, f: &'ast syn::ImplItemFn) {
        self.note(&f.sig.ident, f.sig.span(), f.block.span());
        syn::visit::visit_impl_item_fn(self, f);
    }
    fn visit_trait_item_fn(&mut self, f: &'ast syn::TraitItemFn) {
        if let Some(b) = &f.default {
            self.note(&f.sig.ident, f.sig.span(), b.span());
        }
        syn::visit::visit_trait_item_fn(self, f);
    }
}

#[test]
fn no_function_is_too_long_to_hold_in_your_head() {
    let mut long = Vec::new();
    for rel in files() {
        let mut lines = Vec::new();
        Functions { lines: &mut lines }.visit_file(&parse(&rel));
        let cli = rel.starts_with("cli") || rel == Path::new("main.rs");
        let max = if cli { MAX_CLI_FN_LINES } else { MAX_FN_LINES };
        for (name, n) in lines {
            if n > max {
                long.push(format!(
                    "src/{}: fn {name} is {n} lines (at most {max})",
                    rel.display()
                ));
            }
        }
    }
    assert!(long.is_empty(), "functions too long:\n{}", long.join("\n"));
}

/// Paths a file names, from `use` items and qualified paths in code
/// (`crate::x::y`, `super::z`), outside `#[cfg(test)]` items.
struct Paths {
    found: Vec<Vec<String>>,
}

fn is_cfg_test(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("cfg")
            && a.parse_args::<syn::Meta>()
                .is_ok_and(|m| m.path().is_ident("test"))
    })
}

fn use_paths(tree: &syn::UseTree, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    match tree {
        syn::UseTree::Path(p) => {
            prefix.push(p.ident.to_string());
            use_paths(&p.tree, prefix, out);
            prefix.pop();
        }
        syn::UseTree::Name(n) => {
            let mut v = prefix.clone();
            v.push(n.ident.to_string());
            out.push(v);
        }
        syn::UseTree::Rename(r) => {
            let mut v = prefix.clone();
            v.push(r.ident.to_string());
            out.push(v);
        }
        syn::UseTree::Glob(_) => out.push(prefix.clone()),
        syn::UseTree::Group(g) => {
            for t in &g.items {
                use_paths(t, prefix, out);
            }
        }
    }
}

impl<'ast> Visit<'ast> for Paths {
    fn visit_item(&mut self, i: &'ast syn::Item) {
        let attrs: &[syn::Attribute] = match i {
            syn::Item::Mod(m) => &m.attrs,
            syn::Item::Fn(f) => &f.attrs,
            syn::Item::Impl(m) => &m.attrs,
            syn::Item::Use(u) => &u.attrs,
            _ => &[],
        };
        if is_cfg_test(attrs) {
            return;
        }
        if let syn::Item::Use(u) = i {
            use_paths(&u.tree, &mut Vec::new(), &mut self.found);
            return;
        }
        syn::visit::visit_item(self, i);
    }
    // `pub(super)` names a scope, not an import.
    fn visit_visibility(&mut self, _: &'ast syn::Visibility) {}

    fn visit_path(&mut self, p: &'ast syn::Path) {
        // `crate::x`, `super::x`, and `child::x` (a path through a module
        // the file declares; a single name resolves to the file itself).
        let segs: Vec<String> = p.segments.iter().map(|s| s.ident.to_string()).collect();
        if segs.len() >= 2 || matches!(segs.first().map(String::as_str), Some("crate" | "super")) {
            self.found.push(segs);
        }
        syn::visit::visit_path(self, p);
    }
}

/// The file a path names, if it names one of `modules`: the longest
/// module prefix of the resolved path.
fn target_of(
    path: &[String],
    from: &[String],
    modules: &BTreeMap<Vec<String>, PathBuf>,
) -> Option<PathBuf> {
    let mut abs: Vec<String> = Vec::new();
    let mut rest = path;
    match path.first().map(String::as_str) {
        Some("crate") => rest = &path[1..],
        Some("super") | Some("self") => {
            abs = from.to_vec();
            while let Some(first) = rest.first() {
                match first.as_str() {
                    "super" => {
                        abs.pop()?;
                    }
                    "self" => {}
                    _ => break,
                }
                rest = &rest[1..];
            }
        }
        // A path relative to the file's own module (`use h1::Conn` after
        // `mod h1`): a child of it.
        Some(_) => abs = from.to_vec(),
        None => return None,
    }
    abs.extend(rest.iter().cloned());
    (0..=abs.len())
        .rev()
        .find_map(|n| modules.get(&abs[..n]))
        .cloned()
}

/// Each file's imports of other files of the crate.
fn import_graph() -> BTreeMap<PathBuf, BTreeSet<PathBuf>> {
    let bin = Path::new("main.rs");
    let files: Vec<PathBuf> = files().into_iter().filter(|f| f != bin).collect();
    let modules: BTreeMap<Vec<String>, PathBuf> =
        files.iter().map(|f| (module_of(f), f.clone())).collect();
    let mut graph = BTreeMap::new();
    for rel in &files {
        let mut paths = Paths { found: Vec::new() };
        paths.visit_file(&parse(rel));
        let from = module_of(rel);
        if std::env::var_os("LAYOUT_DEBUG").is_some() {
            for p in &paths.found {
                if let Some(t) = target_of(p, &from, &modules).filter(|t| t != rel) {
                    eprintln!("{} {} -> {}", rel.display(), p.join("::"), t.display());
                }
            }
        }
        let edges: BTreeSet<PathBuf> = paths
            .found
            .iter()
            .filter(|p| !p.is_empty())
            .filter_map(|p| target_of(p, &from, &modules))
            .filter(|t| t != rel)
            // A module file declares and re-exports its own children: that
            // is the module tree, not an import that can close a circle.
            // Every other edge counts, a child's use of its parent too.
            .filter(|t| !is_child(&from, &module_of(t)))
            .collect();
        graph.insert(rel.clone(), edges);
    }
    graph
}

/// Whether `child` is a direct child module of `parent`.
fn is_child(parent: &[String], child: &[String]) -> bool {
    child.len() == parent.len() + 1 && child.starts_with(parent)
}

#[test]
fn only_the_command_line_names_the_command_line() {
    let mut offenders = Vec::new();
    for (file, edges) in import_graph() {
        if file.starts_with("cli") {
            continue;
        }
        if edges.iter().any(|t| t.starts_with("cli")) {
            offenders.push(format!("src/{}", file.display()));
        }
    }
    assert!(
        offenders.is_empty(),
        "library modules importing crate::cli: {offenders:?}"
    );
}

/// Strongly connected components of more than one file (Tarjan).
fn cycles(graph: &BTreeMap<PathBuf, BTreeSet<PathBuf>>) -> Vec<Vec<PathBuf>> {
    struct State<'g> {
        graph: &'g BTreeMap<PathBuf, BTreeSet<PathBuf>>,
        index: BTreeMap<&'g PathBuf, usize>,
        low: BTreeMap<&'g PathBuf, usize>,
        stack: Vec<&'g PathBuf>,
        on_stack: BTreeSet<&'g PathBuf>,
        out: Vec<Vec<PathBuf>>,
    }
    fn visit<'g>(s: &mut State<'g>, v: &'g PathBuf) {
        let i = s.index.len();
        s.index.insert(v, i);
        s.low.insert(v, i);
        s.stack.push(v);
        s.on_stack.insert(v);
        for w in s.graph.get(v).into_iter().flatten() {
            if !s.graph.contains_key(w) {
                continue;
            }
            if !s.index.contains_key(w) {
                visit(s, w);
                let lw = s.low[w];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(lw);
            } else if s.on_stack.contains(w) {
                let iw = s.index[w];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(iw);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                component.push(w.clone());
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                s.out.push(component);
            }
        }
    }
    let mut s = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in graph.keys() {
        if !s.index.contains_key(v) {
            visit(&mut s, v);
        }
    }
    s.out
}

#[test]
fn no_import_circle_between_files() {
    let graph = import_graph();
    let found = cycles(&graph);
    // Each circle with the imports that close it.
    let text: Vec<String> = found
        .iter()
        .map(|c| {
            let edges: Vec<String> = c
                .iter()
                .flat_map(|a| {
                    graph[a]
                        .iter()
                        .filter(|b| c.contains(b))
                        .map(move |b| format!("  src/{} → src/{}", a.display(), b.display()))
                })
                .collect();
            edges.join("\n")
        })
        .collect();
    assert!(found.is_empty(), "import circles:\n{}", text.join("\n\n"));
}

/// The stages (top-level modules: `ingest`, `model`, `execute`…) import
/// each other in one direction only: folding every file into its stage,
/// no circle remains (`ingest` ↔ `model`, `execute` ↔ `cli` were two).
#[test]
fn no_import_circle_between_stages() {
    let stage = |f: &PathBuf| {
        let m = module_of(f);
        PathBuf::from(m.first().cloned().unwrap_or_else(|| "lib".into()))
    };
    let mut stages: BTreeMap<PathBuf, BTreeSet<PathBuf>> = BTreeMap::new();
    for (file, edges) in import_graph() {
        let from = stage(&file);
        let to: BTreeSet<PathBuf> = edges.iter().map(stage).filter(|t| *t != from).collect();
        stages.entry(from).or_default().extend(to);
    }
    // lib.rs declares every stage.
    stages.remove(Path::new("lib"));
    let found = cycles(&stages);
    assert!(found.is_empty(), "stages importing each other: {found:?}");
}

#[test]
fn the_checker_sees_a_circle_and_a_long_function() {
    // The checks above must be able to fail.
    let graph = BTreeMap::from([
        (
            PathBuf::from("a.rs"),
            BTreeSet::from([PathBuf::from("b.rs")]),
        ),
        (
            PathBuf::from("b.rs"),
            BTreeSet::from([PathBuf::from("a.rs")]),
        ),
        (
            PathBuf::from("c.rs"),
            BTreeSet::from([PathBuf::from("a.rs")]),
        ),
    ]);
    assert_eq!(
        cycles(&graph),
        vec![vec![PathBuf::from("a.rs"), PathBuf::from("b.rs")]]
    );
    let body = "    let x = \"}\";\n".repeat(200);
    let file: syn::File = syn::parse_str(&format!("fn long() {{\n{body}}}\n")).unwrap();
    let mut lines = Vec::new();
    Functions { lines: &mut lines }.visit_file(&file);
    assert_eq!(lines, vec![("long".to_string(), 202)]);
    let modules = BTreeMap::from([
        (vec!["execute".to_string()], PathBuf::from("execute/mod.rs")),
        (
            vec!["execute".to_string(), "h1".to_string()],
            PathBuf::from("execute/h1.rs"),
        ),
    ]);
    let from = vec!["execute".to_string(), "conn".to_string()];
    let path: Vec<String> = ["super", "h1", "Conn"].map(String::from).to_vec();
    assert_eq!(
        target_of(&path, &from, &modules),
        Some(PathBuf::from("execute/h1.rs"))
    );
}
