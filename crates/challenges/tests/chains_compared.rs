//! `docs/chains-compared.md` stays honest: its glomers-node blocks are the code of
//! `examples/chains.rs` (which CI compiles and tests), and its table gives the lines every
//! block on the page has, counted as the page says (non-blank lines that are not comments).

use std::collections::BTreeMap;
use std::path::Path;

const LIBRARIES: [&str; 3] = ["glomers-node", "go", "maelstrom-node"];

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The example's chains: the lines between `// chain: <name>` and `// end`, unindented.
fn example_chains(example: &str) -> BTreeMap<String, String> {
    let mut chains = BTreeMap::new();
    let mut current: Option<(String, Vec<&str>)> = None;
    for line in example.lines() {
        let trimmed = line.trim();
        if let Some(name) = trimmed.strip_prefix("// chain: ") {
            current = Some((name.to_string(), Vec::new()));
        } else if trimmed == "// end" {
            let (name, lines) = current.take().expect("an `// end` after a `// chain:`");
            let indent = lines
                .iter()
                .filter(|l| !l.trim().is_empty())
                .map(|l| l.len() - l.trim_start().len())
                .min()
                .unwrap_or(0);
            let body: Vec<&str> = lines
                .iter()
                .map(|l| l.get(indent..).unwrap_or(""))
                .collect();
            chains.insert(name, body.join("\n"));
        } else if let Some((_, lines)) = current.as_mut() {
            lines.push(line);
        }
    }
    chains
}

/// Each `<!-- count: <chain> <library> [+N] -->` and the code block after it, with the extra
/// lines it declares (helpers shown in another block).
fn counted_blocks(doc: &str) -> Vec<(String, String, String, usize)> {
    let lines: Vec<&str> = doc.lines().collect();
    let mut blocks = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some(spec) = line
            .strip_prefix("<!-- count: ")
            .and_then(|s| s.strip_suffix(" -->"))
        else {
            continue;
        };
        let words: Vec<&str> = spec.split_whitespace().collect();
        let extra = words
            .get(2)
            .map(|w| w.trim_start_matches('+').parse().expect("+N"))
            .unwrap_or(0);
        assert!(lines[i + 1].starts_with("```"), "a code block after {line}");
        let end = (i + 2..lines.len())
            .find(|&j| lines[j].starts_with("```"))
            .expect("the block ends");
        let code = lines[i + 2..end].join("\n");
        blocks.push((words[0].to_string(), words[1].to_string(), code, extra));
    }
    blocks
}

fn count_lines(code: &str) -> usize {
    code.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("//"))
        .count()
}

/// The table row of a chain: `| ... (`<chain>`) | ours | go | tokio | ... |`.
fn table_row(doc: &str, chain: &str) -> Vec<usize> {
    let tag = format!("(`{chain}`) |");
    let row = doc
        .lines()
        .find(|l| l.starts_with('|') && l.contains(&tag))
        .unwrap_or_else(|| panic!("no table row for {chain}"));
    row.split('|')
        .skip(2)
        .take(3)
        .map(|cell| cell.trim().parse().expect("a line count"))
        .collect()
}

#[test]
fn the_comparison_quotes_the_example_and_counts_its_lines_right() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let doc = read(&root.join("../../docs/chains-compared.md"));
    let ours = example_chains(&read(&root.join("examples/chains.rs")));
    assert_eq!(ours.len(), 4, "four chains in the example");

    let blocks = counted_blocks(&doc);
    assert_eq!(blocks.len(), 12, "each chain three ways");
    let mut counts: BTreeMap<(String, String), usize> = BTreeMap::new();
    for (chain, library, code, extra) in blocks {
        assert!(LIBRARIES.contains(&library.as_str()), "{library}?");
        if library == "glomers-node" {
            assert_eq!(code, ours[&chain], "the doc's {chain} is not the example's");
        }
        counts.insert((chain, library), count_lines(&code) + extra);
    }
    for chain in ours.keys() {
        let counted: Vec<usize> = LIBRARIES
            .iter()
            .map(|lib| counts[&(chain.clone(), lib.to_string())])
            .collect();
        assert_eq!(
            table_row(&doc, chain),
            counted,
            "the table's {chain} row against the blocks ({LIBRARIES:?})"
        );
    }
}
