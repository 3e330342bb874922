//! The report and `glomers serve` in a real browser: headless Chromium loads the page, and the
//! page's own checks (written into `#selfcheck`) are read back from the DOM it dumps.
//! Screenshots go to `target/test-artifacts/`.
//!
//! Without Chromium on the PATH these tests say so and pass, unless `CI` is set: then they fail.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use glomers_workbench::catalog;
use glomers_workbench::commands::run_sim;
use glomers_workbench::net::{Latency, LatencyDist};
use glomers_workbench::runner::TestOptions;
use glomers_workbench::serve::StoreServer;

fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for name in [
        "chromium",
        "chromium-browser",
        "google-chrome",
        "google-chrome-stable",
    ] {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Some(candidate);
            }
        }
    }
    let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
    assert!(
        !ci,
        "CI is set but Chromium is not installed (apt-get install chromium)"
    );
    eprintln!("skipping the browser test: no Chromium on the PATH (CI=true makes this fail)");
    None
}

fn artifacts() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/test-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("glomers-browser-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs headless Chromium with `args` and the URL; returns its stdout. Bounded in time.
fn run_chromium(bin: &Path, args: &[&str], url: &str) -> String {
    let profile = temp_dir(&format!("profile-{}", rand_suffix()));
    let mut child = Command::new(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--hide-scrollbars",
            "--virtual-time-budget=8000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting chromium");
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let started = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if started.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within 120 s on {url}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = reader.join().unwrap();
    let _ = std::fs::remove_dir_all(&profile);
    out
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

/// The attributes of the page's `#selfcheck` element.
fn selfcheck(dom: &str) -> std::collections::HashMap<String, String> {
    let at = dom
        .find("id=\"selfcheck\"")
        .unwrap_or_else(|| panic!("no #selfcheck in the DOM: {}", &dom[..dom.len().min(500)]));
    let start = dom[..at].rfind('<').unwrap();
    let tag = &dom[start..at + dom[at..].find('>').unwrap()];
    let mut out = std::collections::HashMap::new();
    for part in tag.split("\" ") {
        if let Some((k, v)) = part.trim_start_matches("<div ").split_once("=\"") {
            out.insert(k.trim().to_string(), v.trim_end_matches('"').to_string());
        }
    }
    out
}

fn screenshot(bin: &Path, url: &str, name: &str, height: u32) {
    let path = artifacts().join(name);
    let _ = std::fs::remove_file(&path);
    run_chromium(
        bin,
        &[
            &format!("--screenshot={}", path.display()),
            &format!("--window-size=1400,{height}"),
        ],
        url,
    );
    assert!(path.exists(), "no screenshot {}", path.display());
}

/// A stored broadcast run that lost values: a node that never re-sends, under partitions.
fn lost_value_run(store: &Path) -> PathBuf {
    let opts = TestOptions {
        time_limit_secs: 3.0,
        rate: 30.0,
        partitions: true,
        nemesis_interval_secs: 0.5,
        latency: Latency::new(10, LatencyDist::Exponential).unwrap(),
        seed: 3,
        ..TestOptions::new("broadcast", 5)
    };
    let entry = catalog::find("broken-broadcast-no-retry").unwrap();
    let f = run_sim(&opts, entry, &[], Some(store)).unwrap();
    f.dir.unwrap()
}

fn count_lines(path: &Path, needle: &str) -> usize {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| l.contains(needle))
        .count()
}

/// Asserts what the report of a lost-value run must show; returns the lost value.
fn assert_report_dom(dom: &str, run: &Path) -> String {
    let check = selfcheck(dom);
    assert_eq!(check["data-status"], "ok", "the page's checks: {check:?}");
    assert_eq!(check["data-errors"], "0", "script errors: {check:?}");
    let delivered = count_lines(&run.join("messages.jsonl"), "\"type\":\"recv\"");
    assert!(delivered > 0);
    assert_eq!(
        check["data-arrows"],
        delivered.to_string(),
        "one arrow per delivered message of the journal"
    );
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("results.json")).unwrap()).unwrap();
    let lost = results["workload"]["lost"][0].to_string();
    assert_ne!(lost, "null", "the run must lose a value");
    // The finding for the lost value links to its trail, which is on the page.
    let trail = format!("trail-lost-{lost}");
    let finding = dom
        .split("<li class=\"finding\"")
        .skip(1)
        .find(|f| f.contains(&format!("element {lost} ")))
        .unwrap_or_else(|| panic!("no finding names element {lost}"));
    let finding = &finding[..finding.find("</li>").unwrap()];
    assert!(
        finding.contains(&format!("class=\"trail-link\" href=\"#{trail}\"")),
        "the finding does not link to its trail: {finding}"
    );
    assert!(dom.contains(&format!("id=\"{trail}\"")), "no trail section");
    assert_eq!(check["data-trail-links"], check["data-trail-links-ok"]);
    lost
}

#[test]
fn report_of_a_lost_value_in_chromium() {
    let Some(bin) = chromium() else { return };
    let store = temp_dir("report");
    let run = lost_value_run(&store);
    let url = format!("file://{}", run.join("report.html").display());
    let dom = run_chromium(&bin, &["--dump-dom"], &url);
    let lost = assert_report_dom(&dom, &run);
    screenshot(&bin, &url, "report-top.png", 2400);
    // The lower part: a frame scrolled to the diagram, showing the lost value's trail on it
    // (`#show-<trail>` is the link the trail's button makes).
    let frame = run.join("diagram-view.html");
    std::fs::write(
        &frame,
        format!(
            "<!DOCTYPE html><body style=\"margin:0\"><iframe src=\"report.html#show-trail-lost-{lost}\" \
             style=\"border:0;width:1400px;height:1300px\"></iframe></body>"
        ),
    )
    .unwrap();
    let dom = run_chromium(
        &bin,
        &["--dump-dom"],
        &format!("{url}#show-trail-lost-{lost}"),
    );
    assert_eq!(selfcheck(&dom)["data-status"], "ok");
    screenshot(
        &bin,
        &format!("file://{}", frame.display()),
        "report-diagram.png",
        1300,
    );
    std::fs::remove_dir_all(&store).unwrap();
}

/// A stored kafka run with a lost write, and a txn run with a G1c cycle (the first seed that
/// shows one), each with the kind of finding to look for.
fn anomaly_runs(store: &Path) -> Vec<(PathBuf, &'static str)> {
    let kafka = TestOptions {
        time_limit_secs: 3.0,
        rate: 30.0,
        seed: 1,
        ..TestOptions::new("kafka", 2)
    };
    let entry = catalog::find("broken-kafka-forget").unwrap();
    let kafka_run = run_sim(&kafka, entry, &[], Some(store))
        .unwrap()
        .dir
        .unwrap();
    let txn = TestOptions {
        time_limit_secs: 1.0,
        rate: 200.0,
        concurrency: 4,
        latency: Latency::new(20, LatencyDist::Exponential).unwrap(),
        consistency_models: "read-committed".into(),
        ..TestOptions::new("txn-rw-register", 2)
    };
    let entry = catalog::find("broken-txn-peer-reads").unwrap();
    let txn_run = (0..10)
        .map(|seed| {
            let opts = TestOptions {
                seed,
                ..txn.clone()
            };
            run_sim(&opts, entry, &[], Some(store))
                .unwrap()
                .dir
                .unwrap()
        })
        .find(|dir| {
            std::fs::read_to_string(dir.join("report.html"))
                .unwrap()
                .contains("data-kind=\"G1c\"")
        })
        .expect("no G1c in 10 seeds");
    vec![(kafka_run, "lost-write"), (txn_run, "G1c")]
}

/// The first finding of `kind` in the DOM links to a trail drawn over its ops: returns the
/// trail's id.
fn assert_drawn_trail(dom: &str, kind: &str) -> String {
    let at = dom
        .find(&format!("data-kind=\"{kind}\""))
        .unwrap_or_else(|| panic!("no {kind} finding"));
    let li = &dom[at..at + dom[at..].find("</li>").unwrap()];
    let href = li
        .split("class=\"trail-link\" href=\"#")
        .nth(1)
        .unwrap_or_else(|| panic!("the {kind} finding links to no trail: {li}"));
    let id = href[..href.find('"').unwrap()].to_string();
    let start = dom
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no trail {id}"));
    let trail = &dom[start..start + dom[start..].find("</details>").unwrap()];
    assert!(trail.contains("<svg class=\"opgraph\""), "{trail}");
    assert!(trail.matches("class=\"edge\"").count() >= 1, "{trail}");
    assert!(trail.contains("href=\"#op-"), "the boxes link to no op");
    assert!(
        trail.contains("data-msg=\""),
        "the trail links to no message"
    );
    id
}

#[test]
fn trails_of_kafka_and_txn_findings_in_chromium() {
    let Some(bin) = chromium() else { return };
    let store = temp_dir("anomalies");
    for (run, kind) in anomaly_runs(&store) {
        let url = format!("file://{}", run.join("report.html").display());
        let dom = run_chromium(&bin, &["--dump-dom"], &url);
        let check = selfcheck(&dom);
        assert_eq!(
            check["data-status"], "ok",
            "{kind}: the page's checks: {check:?}"
        );
        assert_eq!(check["data-errors"], "0");
        let delivered = count_lines(&run.join("messages.jsonl"), "\"type\":\"recv\"");
        assert_eq!(check["data-arrows"], delivered.to_string());
        assert_eq!(check["data-trail-links"], check["data-trail-links-ok"]);
        let trail = assert_drawn_trail(&dom, kind);
        // Its messages framed on the diagram, as its button does.
        let dom = run_chromium(&bin, &["--dump-dom"], &format!("{url}#show-{trail}"));
        assert_eq!(selfcheck(&dom)["data-status"], "ok");
        let frame = run.join("trail-view.html");
        std::fs::write(
            &frame,
            format!(
                "<!DOCTYPE html><body style=\"margin:0\"><iframe src=\"report.html#{trail}\" \
                 style=\"border:0;width:1400px;height:900px\"></iframe></body>"
            ),
        )
        .unwrap();
        let name = if kind == "G1c" {
            "report-txn-trail.png"
        } else {
            "report-kafka-trail.png"
        };
        screenshot(&bin, &format!("file://{}", frame.display()), name, 900);
    }
    std::fs::remove_dir_all(&store).unwrap();
}

#[test]
fn serve_in_chromium() {
    let Some(bin) = chromium() else { return };
    let store = temp_dir("serve");
    let run = lost_value_run(&store);
    let server = Arc::new(StoreServer::bind(&store, "127.0.0.1", 0).unwrap());
    let addr = server.addr();
    let serving = Arc::clone(&server);
    let thread = std::thread::spawn(move || serving.run());
    let index = run_chromium(&bin, &["--dump-dom"], &format!("http://{addr}/"));
    let name = run.file_name().unwrap().to_string_lossy().into_owned();
    assert!(index.contains("class=\"run invalid\""), "{index}");
    let link = format!("href=\"/broadcast/{name}/report.html\"");
    assert!(index.contains(&link), "no link to the report: {index}");
    let dom = run_chromium(
        &bin,
        &["--dump-dom"],
        &format!("http://{addr}/broadcast/{name}/report.html"),
    );
    assert_report_dom(&dom, &run);
    screenshot(&bin, &format!("http://{addr}/"), "serve-index.png", 700);
    server.stop();
    thread.join().unwrap();
    std::fs::remove_dir_all(&store).unwrap();
}

/// Sends one raw request line and returns the status code.
fn status_of(addr: std::net::SocketAddr, path: &str) -> u16 {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut reply = String::new();
    let _ = stream.read_to_string(&mut reply);
    assert!(!reply.contains("the secret"), "{path} leaked: {reply}");
    reply
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

#[test]
fn serve_refuses_paths_out_of_the_store() {
    let dir = temp_dir("escape");
    let store = dir.join("store");
    std::fs::create_dir_all(store.join("echo/run")).unwrap();
    std::fs::write(dir.join("secret.txt"), "the secret").unwrap();
    std::fs::write(store.join("echo/run/history.jsonl"), "").unwrap();
    let server = Arc::new(StoreServer::bind(&store, "127.0.0.1", 0).unwrap());
    let addr = server.addr();
    assert!(addr.ip().is_loopback());
    let serving = Arc::clone(&server);
    let thread = std::thread::spawn(move || serving.run());
    for path in [
        "/../secret.txt",
        "/echo/../../secret.txt",
        "/%2e%2e/secret.txt",
        "/echo/%2E%2E/%2e%2e/secret.txt",
    ] {
        assert_eq!(status_of(addr, path), 403, "{path}");
    }
    assert_eq!(status_of(addr, "/echo/run/history.jsonl"), 200);
    assert_eq!(status_of(addr, "/"), 200);
    server.stop();
    thread.join().unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}
