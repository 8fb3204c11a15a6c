//! The floor for WebSocket push: a bare broadcast server in tokio-tungstenite, as
//! measured in `../shared/MEASURED.md`. Every accepted connection gets a bounded channel
//! and a writer task that sends what arrives on it; the connection's own task reads and
//! drops whatever the client sends (tungstenite answers pings and closes by itself).
//! `broadcast` hands one frame to every channel with `try_send` (a full or closed channel
//! is counted, never waited for). Nothing else: no authentication, no routing, no
//! storage. Included by `ws_fanout` with `#[path]`; not a bench target itself.

use std::sync::{Arc, Mutex};

use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

type Senders = Arc<Mutex<Vec<mpsc::Sender<Message>>>>;

pub struct BareServer {
    pub port: u16,
    senders: Senders,
    runtime: tokio::runtime::Runtime,
}

impl BareServer {
    /// Listens on 127.0.0.1, port 0, served by its own tokio runtime of `threads`
    /// workers (threads named `bare-ws`); each connection's channel holds `queue` frames.
    pub fn start(threads: usize, queue: usize) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .thread_name("bare-ws")
            .enable_all()
            .build()
            .unwrap();
        // A backlog as deep as actix's (2,048), so hundreds of connects at once are not
        // dropped and retried.
        let listener = {
            let _runtime = runtime.enter();
            let socket = tokio::net::TcpSocket::new_v4().unwrap();
            socket.bind(([127, 0, 0, 1], 0).into()).unwrap();
            socket.listen(2048).unwrap()
        };
        let port = listener.local_addr().unwrap().port();
        let senders: Senders = Arc::default();
        let registry = senders.clone();
        runtime.spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, registry.clone(), queue));
            }
        });
        Self { port, senders, runtime }
    }

    /// Connections accepted so far (closed ones included).
    pub fn connections(&self) -> usize {
        self.senders.lock().unwrap().len()
    }

    /// Hands `frame` to every connection's channel. Returns (handed over, refused:
    /// channel full or connection gone).
    pub fn broadcast(&self, frame: &Utf8Bytes) -> (usize, usize) {
        let senders = self.senders.lock().unwrap();
        let refused = senders.iter().filter(|tx| tx.try_send(Message::Text(frame.clone())).is_err()).count();
        (senders.len() - refused, refused)
    }

    /// Drops every connection and the runtime (callable from inside another runtime).
    pub fn stop(self) {
        self.senders.lock().unwrap().clear();
        self.runtime.shutdown_background();
    }
}

async fn serve(stream: tokio::net::TcpStream, senders: Senders, queue: usize) {
    // As actix-http does for every connection.
    let _ = stream.set_nodelay(true);
    let config = WebSocketConfig::default().read_buffer_size(4096);
    let Ok(ws) = tokio_tungstenite::accept_async_with_config(stream, Some(config)).await else { return };
    let (mut sink, mut source) = ws.split();
    let (tx, mut rx) = mpsc::channel::<Message>(queue);
    senders.lock().unwrap().push(tx);
    let writer = tokio::spawn(async move {
        while let Some(frame) = rx.recv().await {
            if sink.send(frame).await.is_err() {
                break;
            }
        }
    });
    while let Some(Ok(_)) = source.next().await {}
    writer.abort();
}
