//! `starling health` (the container image's HEALTHCHECK), run as the real binary: against
//! the real server, and against stand-ins that answer wrongly or not at all.

use std::process::Output;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::helpers::*;

async fn health(args: &[&str], env: &[(&str, &str)]) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_starling"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("STARLING_ENV")
        .envs(env.iter().copied())
        .arg("health")
        .args(args)
        .output()
        .await
        .unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[actix_web::test]
async fn health_passes_against_the_running_server() {
    let app = spawn_app().await;
    let out = health(&["--url", &app.url("/health")], &[]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("HTTP/1.1 200 OK"));

    // Without --url: the configured port, on the loopback address for a wildcard host.
    let port = app.base.rsplit(':').next().unwrap().to_owned();
    let env = [("STARLING__SERVER__HOST", "0.0.0.0"), ("STARLING__SERVER__PORT", port.as_str())];
    let out = health(&[], &env).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("http://127.0.0.1:{port}/health")));
}

#[actix_web::test]
async fn health_fails_when_nothing_listens() {
    let port = TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap().port();
    let out = health(&["--url", &format!("http://127.0.0.1:{port}/health")], &[]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("cannot connect"), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
}

#[actix_web::test]
async fn health_fails_on_an_answer_other_than_200() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let stand_in = actix_web::rt::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut request = Vec::new();
        let mut buf = [0u8; 1024];
        while !request.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = socket.read(&mut buf).await.unwrap();
            assert!(n > 0, "the probe closed before ending its request");
            request.extend_from_slice(&buf[..n]);
        }
        socket.write_all(b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n").await.unwrap();
        String::from_utf8(request).unwrap()
    });
    let out = health(&["--url", &format!("http://127.0.0.1:{port}/health?deep=1")], &[]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("503 Service Unavailable"), "{}", stderr(&out));
    let request = stand_in.await.unwrap();
    assert!(request.starts_with("GET /health?deep=1 HTTP/1.1\r\n"), "{request}");
    assert!(request.contains(&format!("\r\nHost: 127.0.0.1:{port}\r\n")), "{request}");
}

#[actix_web::test]
async fn health_gives_up_on_a_server_that_does_not_answer() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let silent = actix_web::rt::spawn(async move {
        let (socket, _) = listener.accept().await.unwrap();
        actix_web::rt::time::sleep(Duration::from_secs(10)).await;
        drop(socket);
    });
    let started = Instant::now();
    let out = health(&["--url", &format!("http://127.0.0.1:{port}/health"), "--timeout", "1"], &[]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("no answer within 1 s"), "{}", stderr(&out));
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
    silent.abort();
}

#[actix_web::test]
async fn health_refuses_urls_it_cannot_probe() {
    for (url, message) in [("https://127.0.0.1:1/health", "only http://"), ("not a url", "not a URL")] {
        let out = health(&["--url", url], &[]).await;
        assert_eq!(out.status.code(), Some(1), "{url}");
        assert!(stderr(&out).contains(message), "{url}: {}", stderr(&out));
    }
}
