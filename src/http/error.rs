//! `ApiError`: every failure a handler can return, rendered as Mastodon renders errors:
//! `{"error": "..."}` (plus `details` for validation, `error_description` for OAuth) with
//! Mastodon's status codes. Internal causes are logged once here and never sent.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, ContentType};
use actix_web::{HttpResponse, ResponseError};
use serde_json::{Map, Value, json};

use crate::auth::AuthError;
use crate::domain::ValidationError;
use crate::storage::StorageError;

pub const INVALID_TOKEN: &str = "The access token is invalid";
pub const OUTSIDE_SCOPES: &str = "This action is outside the authorized scopes";
pub const USER_REQUIRED: &str = "This method requires an authenticated user";

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    Unauthorized(&'static str),
    #[error("{0}")]
    Forbidden(String),
    #[error("Record not found")]
    NotFound,
    /// The path exists, but not with this method; the methods it takes (`Allow`).
    #[error("Method not allowed")]
    MethodNotAllowed(String),
    #[error("Validation failed")]
    Validation(Vec<ValidationError>),
    #[error("{0}")]
    Unprocessable(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    TooManyRequests(String),
    /// An OAuth 2 error (RFC 6749 §5.2): `error` is the machine code.
    #[error("{error}")]
    OAuth { status: StatusCode, error: &'static str, description: &'static str },
    #[error("The server is temporarily unable to store data")]
    Unavailable,
    #[error("Internal server error")]
    Internal(String),
}

impl ApiError {
    pub fn validation(e: ValidationError) -> Self {
        Self::Validation(vec![e])
    }

    pub fn invalid_client() -> Self {
        Self::OAuth {
            status: StatusCode::UNAUTHORIZED,
            error: "invalid_client",
            description: "Client authentication failed due to unknown client, no client authentication included, or unsupported authentication method.",
        }
    }

    pub fn invalid_grant() -> Self {
        Self::OAuth {
            status: StatusCode::BAD_REQUEST,
            error: "invalid_grant",
            description: "The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client.",
        }
    }

    pub fn invalid_scope() -> Self {
        Self::OAuth {
            status: StatusCode::BAD_REQUEST,
            error: "invalid_scope",
            description: "The requested scope is invalid, unknown, or malformed.",
        }
    }

    pub fn invalid_request(description: &'static str) -> Self {
        Self::OAuth { status: StatusCode::BAD_REQUEST, error: "invalid_request", description }
    }

    fn body(&self) -> Value {
        match self {
            Self::Validation(errors) => {
                let summary: Vec<String> =
                    errors.iter().map(|e| format!("{} {}", humanize(e.field), e.description)).collect();
                let mut details = Map::new();
                for e in errors {
                    let entry = details.entry(e.field.to_owned()).or_insert_with(|| Value::Array(vec![]));
                    if let Value::Array(list) = entry {
                        list.push(json!({ "error": e.code, "description": e.description }));
                    }
                }
                json!({ "error": format!("Validation failed: {}", summary.join(", ")), "details": details })
            }
            Self::OAuth { error, description, .. } => json!({ "error": error, "error_description": description }),
            other => json!({ "error": other.to_string() }),
        }
    }
}

/// `display_name` → `Display name`, as Rails prints attribute names.
fn humanize(field: &str) -> String {
    let spaced = field.replace('_', " ");
    let mut chars = spaced.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::Validation(_) | Self::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::OAuth { status, .. } => *status,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let Self::Internal(cause) = self {
            tracing::error!(%cause, "request failed");
        }
        let mut response = HttpResponse::build(self.status_code());
        if let Self::MethodNotAllowed(allow) = self {
            response.insert_header((header::ALLOW, allow.as_str()));
        }
        response.content_type(ContentType::json()).body(self.body().to_string())
    }
}

impl From<StorageError> for ApiError {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::Unavailable => Self::Unavailable,
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<crate::auth::registration::RegisterError> for ApiError {
    fn from(e: crate::auth::registration::RegisterError) -> Self {
        use crate::auth::registration::RegisterError;
        match e {
            RegisterError::Invalid(errors) => Self::Validation(errors),
            RegisterError::Hashing(e) => Self::Internal(format!("password hashing failed: {e}")),
            RegisterError::Storage(e) => e.into(),
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::InvalidToken | AuthError::InvalidRefresh => Self::Unauthorized(INVALID_TOKEN),
            AuthError::InvalidCredentials => Self::Unauthorized("Invalid login or password"),
            AuthError::Storage(e) => e.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::MessageBody;

    fn render(e: ApiError) -> (u16, Value) {
        let response = e.error_response();
        let status = response.status().as_u16();
        assert_eq!(response.headers().get("content-type").unwrap(), "application/json");
        let bytes = response.into_body().try_into_bytes().unwrap();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    #[test]
    fn error_bodies_match_mastodon() {
        assert_eq!(render(ApiError::NotFound), (404, json!({"error": "Record not found"})));
        assert_eq!(render(ApiError::Unauthorized(INVALID_TOKEN)), (401, json!({"error": INVALID_TOKEN})));
        let response = ApiError::MethodNotAllowed("GET, POST".into()).error_response();
        assert_eq!(response.headers().get("allow").unwrap(), "GET, POST");
        assert_eq!(render(ApiError::MethodNotAllowed("GET".into())), (405, json!({"error": "Method not allowed"})));
        let (status, body) = render(ApiError::Validation(vec![
            ValidationError::new("username", "ERR_TAKEN", "is already taken"),
            ValidationError::new("password", "ERR_TOO_SHORT", "is too short (minimum is 8 characters)"),
        ]));
        assert_eq!(status, 422);
        assert_eq!(
            body,
            json!({
                "error": "Validation failed: Username is already taken, Password is too short (minimum is 8 characters)",
                "details": {
                    "username": [{"error": "ERR_TAKEN", "description": "is already taken"}],
                    "password": [{"error": "ERR_TOO_SHORT", "description": "is too short (minimum is 8 characters)"}],
                }
            })
        );
        let (status, body) = render(ApiError::invalid_grant());
        assert_eq!(status, 400);
        assert_eq!(body["error"], "invalid_grant");
        let (status, body) = render(ApiError::Internal("secret cause".into()));
        assert_eq!((status, body), (500, json!({"error": "Internal server error"})));
    }
}
