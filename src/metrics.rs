//! Prometheus metrics. One process-wide recorder (the `metrics` facade with the
//! Prometheus exporter) is installed on first use; code records with `metrics::counter!`,
//! `histogram!` and `gauge!`, and the values that are cheaper to read than to track
//! (pending fan-out jobs, live actors and connections, size on disk) are sampled when
//! `/metrics` is scraped.
//!
//! Names: `starling_http_requests_total{method,route,status}`,
//! `starling_http_request_duration_seconds{method,route}`,
//! `starling_stream_connections{transport}`, `starling_stream_slow_consumer_cuts_total`,
//! `starling_fanout_delivery_seconds` (status created → its events handed to live
//! connections), `starling_fanout_pending_jobs`, `starling_timeline_actors`,
//! `starling_mailbox_drops_total{mailbox}`, `starling_storage_flush_seconds`,
//! `starling_storage_flush_waiters` (writes covered by one flush),
//! `starling_storage_size_bytes`.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

const LATENCY_BUCKETS: &[f64] = &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
const COUNT_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0];

/// Installs the recorder (once per process; later calls return the same handle).
/// `None` if another recorder was installed first.
pub fn handle() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)
                .and_then(|b| b.set_buckets_for_metric(Matcher::Suffix("_waiters".into()), COUNT_BUCKETS));
            match builder.and_then(|b| b.install_recorder()) {
                Ok(h) => Some(h),
                Err(e) => {
                    tracing::warn!(error = %e, "metrics recorder not installed");
                    None
                }
            }
        })
        .as_ref()
}
