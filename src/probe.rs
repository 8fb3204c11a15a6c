//! `starling health`: an HTTP/1.1 GET of the server's `/health`, so the container image
//! can check itself without curl. Plain HTTP over a tokio TCP stream (no HTTP client
//! dependency): the status line is all it reads.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use url::{Host, Url};

use crate::config::ServerSettings;

/// Why a probe did not get an answer.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("{0}")]
    BadUrl(String),
    #[error("cannot connect: {0}")]
    Connect(std::io::Error),
    #[error("no answer within {0} s")]
    Timeout(u64),
    #[error("{0}")]
    Io(std::io::Error),
    #[error("not an HTTP/1.x answer: {0:?}")]
    BadAnswer(String),
}

/// The `/health` URL of the server these settings describe, on the loopback address when
/// it listens on all addresses.
pub fn health_url(server: &ServerSettings) -> String {
    let host = match server.host.as_str() {
        "" | "0.0.0.0" => Ipv4Addr::LOCALHOST.to_string(),
        "::" | "[::]" => format!("[{}]", Ipv6Addr::LOCALHOST),
        h if h.contains(':') && !h.starts_with('[') => format!("[{h}]"),
        h => h.to_owned(),
    };
    format!("http://{host}:{}/health", server.port)
}

/// Sends `GET <url>` and returns the answer's status line (`HTTP/1.1 200 OK`) and code.
pub async fn get_status(url: &str, timeout_secs: u64) -> Result<(u16, String), ProbeError> {
    let url = Url::parse(url).map_err(|e| ProbeError::BadUrl(format!("not a URL ({e})")))?;
    if url.scheme() != "http" {
        return Err(ProbeError::BadUrl(format!("only http:// URLs are supported, not {}://", url.scheme())));
    }
    let port = url.port_or_known_default().unwrap_or(80);
    let host_header = match url.port() {
        Some(p) => format!("{}:{p}", url.host_str().unwrap_or_default()),
        None => url.host_str().unwrap_or_default().to_owned(),
    };
    let mut target = url.path().to_owned();
    if let Some(q) = url.query() {
        target.push('?');
        target.push_str(q);
    }
    let host = url.host().map(|h| h.to_owned()).ok_or_else(|| ProbeError::BadUrl("the URL has no host".into()))?;
    let exchange = async move {
        let mut stream = match host {
            Host::Domain(d) => TcpStream::connect((d.as_str(), port)).await,
            Host::Ipv4(a) => TcpStream::connect((a, port)).await,
            Host::Ipv6(a) => TcpStream::connect((a, port)).await,
        }
        .map_err(ProbeError::Connect)?;
        let request = format!(
            "GET {target} HTTP/1.1\r\nHost: {host_header}\r\nUser-Agent: starling-health\r\nAccept: */*\r\n\
             Connection: close\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await.map_err(ProbeError::Io)?;
        // The status line is all that is needed; it is short.
        let mut head = Vec::with_capacity(256);
        let mut buf = [0u8; 256];
        while !head.windows(2).any(|w| w == b"\r\n") && head.len() < 4096 {
            let n = stream.read(&mut buf).await.map_err(ProbeError::Io)?;
            if n == 0 {
                break;
            }
            head.extend_from_slice(&buf[..n]);
        }
        Ok::<_, ProbeError>(head)
    };
    let head = tokio::time::timeout(Duration::from_secs(timeout_secs), exchange)
        .await
        .map_err(|_| ProbeError::Timeout(timeout_secs))??;
    parse_status_line(&head)
}

fn parse_status_line(head: &[u8]) -> Result<(u16, String), ProbeError> {
    let text = String::from_utf8_lossy(head);
    let line = text.split("\r\n").next().unwrap_or_default().to_owned();
    let mut parts = line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    let code = parts.next().and_then(|c| if c.len() == 3 { c.parse::<u16>().ok() } else { None });
    match code {
        Some(code) if version.starts_with("HTTP/1.") => Ok((code, line)),
        _ => Err(ProbeError::BadAnswer(line)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(host: &str, port: u16) -> ServerSettings {
        ServerSettings {
            host: host.into(),
            port,
            workers: 1,
            max_body_bytes: 1,
            client_request_timeout_secs: 1,
            shutdown_timeout_secs: 1,
        }
    }

    #[test]
    fn health_url_uses_loopback_for_wildcard_addresses() {
        assert_eq!(health_url(&server("0.0.0.0", 8080)), "http://127.0.0.1:8080/health");
        assert_eq!(health_url(&server("::", 9000)), "http://[::1]:9000/health");
        assert_eq!(health_url(&server("127.0.0.1", 1)), "http://127.0.0.1:1/health");
        assert_eq!(health_url(&server("fd00::1", 2)), "http://[fd00::1]:2/health");
        assert_eq!(health_url(&server("starling.internal", 3)), "http://starling.internal:3/health");
    }

    #[test]
    fn status_lines_parse() {
        assert_eq!(parse_status_line(b"HTTP/1.1 200 OK\r\nx: y\r\n").unwrap(), (200, "HTTP/1.1 200 OK".into()));
        assert_eq!(parse_status_line(b"HTTP/1.0 503 Service Unavailable\r\n").unwrap().0, 503);
        assert!(parse_status_line(b"SSH-2.0-OpenSSH\r\n").is_err());
        assert!(parse_status_line(b"HTTP/1.1 20 OK\r\n").is_err());
        assert!(parse_status_line(b"").is_err());
    }
}
