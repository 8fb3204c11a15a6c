//! Rate limits, Mastodon's way: every API request (`/api/…`, `/oauth/…`; not streams,
//! health or metrics) counts against its client address (IPv6 grouped by /64) and, with a
//! valid token, against its auth session; sign-up, login and token grants count against
//! a stricter per-address limit too. Every counted answer carries `X-RateLimit-Limit`,
//! `X-RateLimit-Remaining` and `X-RateLimit-Reset` (ISO 8601) of the tightest limit that
//! applied; past it the answer is 429 `{"error":"Too many requests"}`.
//!
//! The limiters are governor's GCRA: `requests` per `period`, replenished steadily, with
//! a burst of `requests`.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, web};
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DashMapStateStore;
use governor::{Quota, RateLimiter};

use super::AppState;
use super::auth::bearer_token;
use crate::config::RateLimitSettings;
use crate::domain::time::{now_millis, rfc3339_millis};

type Limiter<K> = RateLimiter<K, DashMapStateStore<K>, DefaultClock, StateInformationMiddleware>;

/// One limit: its limiter and how many requests per period it allows.
struct Limit<K: std::hash::Hash + Eq + Clone> {
    limiter: Limiter<K>,
    requests: u32,
    replenish: Duration,
}

/// What a limiter said: allowed or not, remaining requests, when it is whole again.
#[derive(Debug, Clone, Copy)]
struct Verdict {
    allowed: bool,
    limit: u32,
    remaining: u32,
    reset_in: Duration,
}

impl<K: std::hash::Hash + Eq + Clone> Limit<K> {
    fn new(requests: u32, period: Duration) -> Self {
        let burst = NonZeroU32::new(requests.max(1)).unwrap_or(NonZeroU32::MIN);
        let replenish = (period / burst.get()).max(Duration::from_nanos(1));
        let quota = Quota::with_period(replenish).unwrap_or_else(|| Quota::per_second(burst)).allow_burst(burst);
        Self {
            limiter: RateLimiter::dashmap(quota).with_middleware::<StateInformationMiddleware>(),
            requests,
            replenish,
        }
    }

    fn check(&self, key: &K, clock: &DefaultClock) -> Verdict {
        match self.limiter.check_key(key) {
            Ok(state) => {
                let remaining = state.remaining_burst_capacity();
                Verdict {
                    allowed: true,
                    limit: self.requests,
                    remaining,
                    reset_in: self.replenish * self.requests.saturating_sub(remaining),
                }
            }
            Err(not_until) => Verdict {
                allowed: false,
                limit: self.requests,
                remaining: 0,
                reset_in: not_until.wait_time_from(clock.now()) + self.replenish * self.requests.saturating_sub(1),
            },
        }
    }
}

pub struct RateLimits {
    enabled: bool,
    checks: std::sync::atomic::AtomicU64,
    clock: DefaultClock,
    per_session: Limit<u64>,
    per_address: Limit<String>,
    auth_per_address: Limit<String>,
}

impl RateLimits {
    pub fn new(s: &RateLimitSettings) -> Self {
        let api = Duration::from_secs(s.api_period_secs.max(1));
        let auth = Duration::from_secs(s.auth_period_secs.max(1));
        Self {
            enabled: s.enabled,
            checks: Default::default(),
            clock: DefaultClock::default(),
            per_session: Limit::new(s.api_requests, api),
            per_address: Limit::new(s.api_requests, api),
            auth_per_address: Limit::new(s.auth_requests, auth),
        }
    }

    /// Drops the state of keys that are whole again, every 4,096 requests, so memory
    /// follows recent clients only.
    fn tidy(&self) {
        if self.checks.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 4096 == 4095 {
            self.retain_recent();
        }
    }

    pub fn retain_recent(&self) {
        self.per_session.limiter.retain_recent();
        self.per_address.limiter.retain_recent();
        self.auth_per_address.limiter.retain_recent();
    }
}

/// The address key: IPv4 as is, IPv6 by its /64.
pub fn address_key(ip: Option<IpAddr>) -> String {
    match ip {
        Some(IpAddr::V6(v6)) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        Some(IpAddr::V4(v4)) => v4.to_string(),
        None => "unknown".into(),
    }
}

/// Whether requests to `path` count against the limits (and may be answered 429).
pub fn counted(path: &str) -> bool {
    (path.starts_with("/api/") || path.starts_with("/oauth/")) && !path.starts_with("/api/v1/streaming")
}

fn is_auth(method: &Method, path: &str) -> bool {
    method == Method::POST
        && matches!(
            path,
            "/api/v1/accounts" | "/oauth/token" | "/oauth/authorize" | "/api/v1/auth/login" | "/api/v1/auth/refresh"
        )
}

fn headers(v: &Verdict) -> [(HeaderName, HeaderValue); 3] {
    let reset = rfc3339_millis(now_millis() + v.reset_in.as_millis() as i64);
    let value = |s: String| HeaderValue::from_str(&s).unwrap_or(HeaderValue::from_static("0"));
    [
        (HeaderName::from_static("x-ratelimit-limit"), value(v.limit.to_string())),
        (HeaderName::from_static("x-ratelimit-remaining"), value(v.remaining.to_string())),
        (HeaderName::from_static("x-ratelimit-reset"), value(reset)),
    ]
}

/// The middleware.
pub async fn enforce(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let Some(state) = state.filter(|s| s.limits.enabled && counted(req.path())) else {
        return next.call(req).await.map(ServiceResponse::map_into_left_body);
    };
    let limits = &state.limits;
    limits.tidy();
    let address = address_key(req.peer_addr().map(|a| a.ip()));
    let mut verdicts = vec![limits.per_address.check(&address, &limits.clock)];
    if is_auth(req.method(), req.path()) {
        verdicts.push(limits.auth_per_address.check(&address, &limits.clock));
    }
    if let Some(token) = bearer_token(req.request())
        && let Ok(principal) = state.auth.verify(&token)
    {
        verdicts.push(limits.per_session.check(&principal.session_id.0, &limits.clock));
    }
    // The tightest: a refusal first, else the fewest remaining.
    let verdict = verdicts.iter().copied().min_by_key(|v| (v.allowed, v.remaining)).unwrap_or(Verdict {
        allowed: true,
        limit: 0,
        remaining: 0,
        reset_in: Duration::ZERO,
    });
    if !verdict.allowed {
        metrics::counter!("starling_rate_limited_total").increment(1);
        let mut response = HttpResponse::TooManyRequests().json(serde_json::json!({ "error": "Too many requests" }));
        for (name, value) in headers(&verdict) {
            response.headers_mut().insert(name, value);
        }
        return Ok(req.into_response(response).map_into_right_body());
    }
    let mut response = next.call(req).await?;
    for (name, value) in headers(&verdict) {
        response.headers_mut().insert(name, value);
    }
    Ok(response.map_into_left_body())
}
