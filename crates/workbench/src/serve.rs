//! `glomers serve`: a small web UI over the store, as `maelstrom serve`. The index lists the
//! runs newest first, coloured by verdict, with their key figures and links to each report and
//! file; everything else is a file or a directory listing under the store. Nothing outside the
//! store is served: a path with a `..` segment is refused, and so is one that resolves (through
//! a link) outside it.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde_json::Value;

use crate::report_html::html::{escape, validity_class, validity_word};

/// Runs listed on the index at most.
const MAX_RUNS: usize = 1000;

/// A bound server over one store.
pub struct StoreServer {
    http: tiny_http::Server,
    root: PathBuf,
}

/// What a request gets: status, content type and body.
pub struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
    pub location: Option<String>,
}

impl Reply {
    fn text(status: u16, text: &str) -> Reply {
        Reply {
            status,
            content_type: "text/plain; charset=utf-8",
            body: text.as_bytes().to_vec(),
            location: None,
        }
    }

    fn html(body: String) -> Reply {
        Reply {
            status: 200,
            content_type: "text/html; charset=utf-8",
            body: body.into_bytes(),
            location: None,
        }
    }
}

impl StoreServer {
    /// Binds `host:port` (port 0: any free port) over the store at `root`.
    pub fn bind(root: &Path, host: &str, port: u16) -> anyhow::Result<StoreServer> {
        std::fs::create_dir_all(root).with_context(|| format!("creating {}", root.display()))?;
        let root = root
            .canonicalize()
            .with_context(|| format!("opening the store {}", root.display()))?;
        let http = tiny_http::Server::http((host, port))
            .map_err(|e| anyhow::anyhow!("listening on {host}:{port}: {e}"))?;
        Ok(StoreServer { http, root })
    }

    pub fn addr(&self) -> SocketAddr {
        self.http
            .server_addr()
            .to_ip()
            .expect("a TCP listener has an IP address")
    }

    /// Makes [`StoreServer::run`] return (it finishes the request at hand first).
    pub fn stop(&self) {
        self.http.unblock();
    }

    /// Serves until [`StoreServer::stop`] or the end of the process.
    pub fn run(&self) {
        for request in self.http.incoming_requests() {
            let reply = if *request.method() == tiny_http::Method::Get
                || *request.method() == tiny_http::Method::Head
            {
                respond(&self.root, request.url())
            } else {
                Reply::text(405, "only GET and HEAD")
            };
            let mut response = tiny_http::Response::from_data(reply.body)
                .with_status_code(reply.status)
                .with_header(header("Content-Type", reply.content_type));
            if let Some(location) = reply.location {
                response = response.with_header(header("Location", &location));
            }
            let _ = request.respond(response);
        }
    }
}

fn header(name: &str, value: &str) -> tiny_http::Header {
    tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes()).expect("a valid header")
}

/// Percent-decodes a URL path; `None` if it decodes to something that is not UTF-8.
fn decode(path: &str) -> Option<String> {
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The reply to `GET url` over the store at `root` (canonical).
pub fn respond(root: &Path, url: &str) -> Reply {
    let path = url.split(['?', '#']).next().unwrap_or("");
    let Some(decoded) = decode(path) else {
        return Reply::text(400, "bad path encoding");
    };
    let mut target = root.to_path_buf();
    for segment in decoded.split('/') {
        match segment {
            "" | "." => {}
            ".." => return Reply::text(403, "refused: the path leaves the store (`..`)"),
            s if s.contains('\\') || s.contains('\0') => {
                return Reply::text(403, "refused: not a path in the store")
            }
            s => target.push(s),
        }
    }
    let Ok(real) = target.canonicalize() else {
        return Reply::text(404, "not found");
    };
    if !real.starts_with(root) {
        return Reply::text(403, "refused: the path leaves the store");
    }
    if real.is_dir() {
        if !path.ends_with('/') {
            return Reply {
                location: Some(format!("{path}/")),
                ..Reply::text(301, "moved")
            };
        }
        if real == root {
            return Reply::html(index(root));
        }
        return Reply::html(listing(&real, &decoded));
    }
    match std::fs::read(&real) {
        Ok(body) => Reply {
            status: 200,
            content_type: content_type(&real),
            body,
            location: None,
        },
        Err(_) => Reply::text(404, "not found"),
    }
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("json") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        _ => "text/plain; charset=utf-8",
    }
}

const STYLE: &str = "body{font:14px system-ui,sans-serif;margin:20px;color:#222}\
table{border-collapse:collapse}td,th{padding:3px 10px;border-bottom:1px solid #ddd;text-align:left}\
tr.valid td:first-child{border-left:6px solid #2a9d3a}tr.invalid td:first-child{border-left:6px solid #d33}\
tr.unknown td:first-child{border-left:6px solid #e0a000}tr.invalid{background:#fff0f0}\
tr.unknown{background:#fffbe8}.badge{padding:1px 7px;border-radius:9px;color:#fff;font-size:12px}\
.badge.valid{background:#2a9d3a}.badge.invalid{background:#d33}.badge.unknown{background:#e0a000}";

/// One stored run, as the index shows it.
pub struct RunEntry {
    /// Path under the store, `<workload>/<run>`.
    pub path: String,
    pub name: String,
    pub results: Value,
}

/// Every run in the store, newest first (run directories are named by their start time).
pub fn runs(root: &Path) -> Vec<RunEntry> {
    let mut out = Vec::new();
    let Ok(workloads) = std::fs::read_dir(root) else {
        return out;
    };
    for w in workloads.flatten() {
        let wpath = w.path();
        if w.file_name() == "latest" || wpath.is_symlink() || !wpath.is_dir() {
            continue;
        }
        let Ok(entries) = std::fs::read_dir(&wpath) else {
            continue;
        };
        for r in entries.flatten() {
            let rpath = r.path();
            if r.file_name() == "latest" || rpath.is_symlink() || !rpath.is_dir() {
                continue;
            }
            if !rpath.join("history.jsonl").exists() && !rpath.join("results.json").exists() {
                continue;
            }
            let results = std::fs::read_to_string(rpath.join("results.json"))
                .ok()
                .and_then(|t| serde_json::from_str(&t).ok())
                .unwrap_or(Value::Null);
            out.push(RunEntry {
                path: format!(
                    "{}/{}",
                    w.file_name().to_string_lossy(),
                    r.file_name().to_string_lossy()
                ),
                name: r.file_name().to_string_lossy().into_owned(),
                results,
            });
        }
    }
    out.sort_by(|a, b| b.name.cmp(&a.name).then_with(|| a.path.cmp(&b.path)));
    out.truncate(MAX_RUNS);
    out
}

fn index(root: &Path) -> String {
    let runs = runs(root);
    let mut s = format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>glomers runs</title>\
         <style>{STYLE}</style></head><body><h1>glomers runs</h1><p>{} run{} in {}, newest first.</p>\
         <table id=\"runs\"><tr><th>run</th><th>verdict</th><th>workload</th><th>nodes</th>\
         <th>ops</th><th>ok</th><th>server msgs/op</th><th>latency p50/max (ms)</th><th>files</th></tr>",
        runs.len(),
        if runs.len() == 1 { "" } else { "s" },
        escape(&root.display().to_string())
    );
    for run in &runs {
        let r = &run.results;
        let valid = &r["valid"];
        let latency = r["perf"]["latency_ms"]
            .as_object()
            .and_then(|m| m.values().next())
            .map(|q| format!("{}/{}", q["0.5"], q["1"]))
            .unwrap_or_default();
        let path = escape(&run.path);
        let mut files = String::new();
        for f in [
            "report.html",
            "results.json",
            "history.txt",
            "messages.jsonl",
            "node-logs/",
        ] {
            if root.join(&run.path).join(f.trim_end_matches('/')).exists() {
                let _ = write!(files, "<a href=\"/{path}/{f}\">{f}</a> ");
            }
        }
        let _ = write!(
            s,
            "<tr class=\"run {}\"><td><a class=\"report\" href=\"/{path}/report.html\">{}</a></td>\
             <td><span class=\"badge {}\">{}</span></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td>{}</td><td>{}</td><td>{files}<a href=\"/{path}/\">all</a></td></tr>",
            validity_class(valid),
            escape(&run.name),
            validity_class(valid),
            validity_word(valid),
            escape(r["test"]["workload"].as_str().unwrap_or("?")),
            r["test"]["node_count"],
            r["stats"]["count"],
            r["stats"]["ok_count"],
            r["net"]["servers"]["msgs_per_op"]
                .as_f64()
                .map(|m| format!("{m:.2}"))
                .unwrap_or_default(),
            latency
        );
    }
    s.push_str("</table></body></html>");
    s
}

fn listing(dir: &Path, shown: &str) -> String {
    let mut names: Vec<(String, bool)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                e.path().is_dir(),
            )
        })
        .collect();
    names.sort();
    let mut s = format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{0}</title><style>{STYLE}</style>\
         </head><body><h1>{0}</h1><p><a href=\"/\">all runs</a> · <a href=\"../\">up</a></p><ul>",
        escape(shown)
    );
    for (name, is_dir) in names {
        let slash = if is_dir { "/" } else { "" };
        let _ = write!(
            s,
            "<li><a href=\"{0}{slash}\">{0}{slash}</a></li>",
            escape(&name)
        );
    }
    s.push_str("</ul></body></html>");
    s
}

/// `glomers serve`.
pub fn serve(root: &Path, host: &str, port: u16) -> anyhow::Result<()> {
    let server = StoreServer::bind(root, host, port)?;
    println!(
        "serving {} at http://{}/ (Ctrl-C to stop)",
        root.display(),
        server.addr()
    );
    server.run();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_percent_escapes() {
        assert_eq!(decode("/a%2e%2E/b").as_deref(), Some("/a../b"));
        assert_eq!(decode("/x%zz"), None);
        assert_eq!(decode("/x%2"), None);
        assert_eq!(decode("/plain").as_deref(), Some("/plain"));
    }

    #[test]
    fn refuses_paths_that_leave_the_store() {
        let dir = std::env::temp_dir().join(format!("glomers-serve-{}", std::process::id()));
        let root = dir.join("store");
        std::fs::create_dir_all(root.join("echo/run1")).unwrap();
        std::fs::write(dir.join("secret.txt"), "secret").unwrap();
        std::fs::write(root.join("echo/run1/results.json"), "{\"valid\":true}").unwrap();
        let root = root.canonicalize().unwrap();
        for url in [
            "/../secret.txt",
            "/echo/../../secret.txt",
            "/%2e%2e/secret.txt",
            "/echo/%2E%2E/%2e%2e/secret.txt",
            "/..",
        ] {
            let reply = respond(&root, url);
            assert_eq!(reply.status, 403, "{url}");
            assert!(!String::from_utf8_lossy(&reply.body).contains("secret\n"));
        }
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(&dir, root.join("escape")).unwrap();
            assert_eq!(respond(&root, "/escape/secret.txt").status, 403);
        }
        let ok = respond(&root, "/echo/run1/results.json");
        assert_eq!(ok.status, 200);
        assert_eq!(ok.body, b"{\"valid\":true}");
        assert_eq!(respond(&root, "/echo/run1").status, 301);
        assert_eq!(respond(&root, "/missing").status, 404);
        let index = String::from_utf8(respond(&root, "/").body).unwrap();
        assert!(index.contains("/echo/run1/report.html"), "{index}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
