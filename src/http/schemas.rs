//! OpenAPI schemas: the error answers shared by many routes, and the entities still built
//! as JSON values by their handlers (instance, apps, tokens, sessions, moderation),
//! described here field by field; those types only describe. The social entities
//! (Account, Status, Notification, …) are re-exported from `crate::view`, where they are
//! the types actually sent.
//! `scripts/schemathesis` checks every answer of the running server against them, so a
//! field added to an entity without its description here fails that run when required.
//!
//! Conventions: a field the server always sends is required; one that may be `null` is an
//! `Option` marked `required = true`; one that is sometimes left out is `required = false`.
//! Objects stay open (extra properties allowed), as Mastodon's entities grow over time.
#![allow(dead_code)]

use serde::Serialize;
use serde_json::Value;
use utoipa::{IntoResponses, ToSchema};

// --- errors --------------------------------------------------------------------------

/// Mastodon's error body.
#[derive(Serialize, ToSchema)]
#[schema(as = Error)]
pub struct ErrorBody {
    /// What went wrong, for people; for OAuth errors, the RFC 6749 error code.
    error: String,
    /// OAuth errors only: the RFC 6749 description.
    #[schema(required = false)]
    error_description: String,
    /// Validation errors only: for each field, its problems.
    #[schema(required = false)]
    details: std::collections::BTreeMap<String, Vec<ValidationDetail>>,
}

/// One validation problem of one field.
#[derive(Serialize, ToSchema)]
pub struct ValidationDetail {
    /// A code such as `ERR_BLANK`, `ERR_TAKEN`, `ERR_TOO_LONG`.
    error: String,
    description: String,
}

/// The token is missing, invalid, expired or revoked.
#[derive(IntoResponses)]
#[response(status = 401, description = "The access token is missing, invalid, expired or revoked")]
pub struct Unauthorized(ErrorBody);

/// A route for a user: the token must belong to one.
#[derive(IntoResponses)]
pub enum UserErrors {
    #[response(status = 401, description = "The access token is missing, invalid, expired or revoked")]
    Unauthorized(ErrorBody),
    #[response(
        status = 422,
        description = "An app-only token where a user is needed, parameters of the wrong type, or validation failed"
    )]
    Unprocessable(ErrorBody),
}

/// The token lacks every scope that grants the route.
#[derive(IntoResponses)]
#[response(status = 403, description = "The token lacks the scopes this action needs, or the action is not allowed")]
pub struct Forbidden(ErrorBody);

/// A moderation route called by someone without the role or the admin scope.
#[derive(IntoResponses)]
#[response(status = 403, description = "The caller is not a moderator or admin, or the token lacks the admin scope")]
pub struct StaffForbidden(ErrorBody);

/// Nothing there, or nothing this caller may see.
#[derive(IntoResponses)]
#[response(status = 404, description = "Not found, or not visible to the caller")]
pub struct NotFound(ErrorBody);

/// Failures of reading parameters (query string and JSON, form or multipart body).
#[derive(IntoResponses)]
pub enum BadParams {
    #[response(status = 400, description = "Malformed body or parameters (JSON, UTF-8, multipart, ids)")]
    BadRequest(ErrorBody),
    #[response(status = 413, description = "The body is larger than `server.max_body_bytes`")]
    TooLarge(ErrorBody),
    #[response(status = 415, description = "The body has a content type other than JSON, form or multipart")]
    UnsupportedType(ErrorBody),
    #[response(status = 422, description = "Parameters of the wrong type, or validation failed")]
    Unprocessable(ErrorBody),
}

/// Storage refuses writes (for example a full disk); try again later.
#[derive(IntoResponses)]
#[response(status = 503, description = "Storage is temporarily unavailable")]
pub struct Unavailable(ErrorBody);

// --- the social entities: the very types the view layer sends -----------------------

pub use crate::view::StatusVisibility as Visibility;
pub use crate::view::account::{Account, AccountRole, AccountSource, CredentialAccount, CustomEmoji, Field, Role};
pub use crate::view::conversation::Conversation;
pub use crate::view::notification::{Notification, NotificationType};
pub use crate::view::relationship::Relationship;
pub use crate::view::status::{Context, Status, StatusEdit, StatusMention, StatusSource, StatusTag};

pub use crate::view::tag::{Tag, TagHistory};

// --- instance ------------------------------------------------------------------------

#[derive(Serialize, ToSchema)]
pub struct StatusesConfiguration {
    max_characters: u64,
    max_media_attachments: u64,
    characters_reserved_per_url: u64,
}

#[derive(Serialize, ToSchema)]
pub struct MediaConfiguration {
    supported_mime_types: Vec<String>,
    description_limit: u64,
    image_size_limit: u64,
    image_matrix_limit: u64,
    video_size_limit: u64,
    video_frame_rate_limit: u64,
    video_matrix_limit: u64,
}

#[derive(Serialize, ToSchema)]
pub struct PollsConfiguration {
    max_options: u64,
    max_characters_per_option: u64,
    min_expiration: u64,
    max_expiration: u64,
}

#[derive(Serialize, ToSchema)]
pub struct InstanceV1Urls {
    streaming_api: String,
}

#[derive(Serialize, ToSchema)]
pub struct InstanceV1Stats {
    user_count: u64,
    status_count: u64,
    domain_count: u64,
}

#[derive(Serialize, ToSchema)]
pub struct InstanceV1Accounts {
    max_featured_tags: u64,
}

#[derive(Serialize, ToSchema)]
pub struct InstanceV1Configuration {
    accounts: InstanceV1Accounts,
    statuses: StatusesConfiguration,
    media_attachments: MediaConfiguration,
    polls: PollsConfiguration,
}

/// The V1::Instance entity (deprecated by Mastodon, still read by many clients).
#[derive(Serialize, ToSchema)]
#[schema(as = InstanceV1)]
pub struct InstanceV1 {
    uri: String,
    title: String,
    short_description: String,
    description: String,
    email: String,
    /// A Mastodon version, then `(compatible; starling …)`.
    version: String,
    urls: InstanceV1Urls,
    stats: InstanceV1Stats,
    #[schema(required = true)]
    thumbnail: Option<String>,
    languages: Vec<String>,
    registrations: bool,
    approval_required: bool,
    invites_enabled: bool,
    configuration: InstanceV1Configuration,
    #[schema(required = true)]
    contact_account: Option<Account>,
    #[schema(value_type = Vec<Object>)]
    rules: Vec<Value>,
}

#[derive(Serialize, ToSchema)]
pub struct InstanceUsers {
    active_month: u64,
}

#[derive(Serialize, ToSchema)]
pub struct InstanceUsage {
    users: InstanceUsers,
}

#[derive(Serialize, ToSchema)]
pub struct InstanceThumbnail {
    url: String,
}

#[derive(Serialize, ToSchema)]
pub struct InstanceUrls {
    streaming: String,
    #[schema(required = true)]
    status: Option<String>,
    about: String,
    #[schema(required = true)]
    privacy_policy: Option<String>,
    #[schema(required = true)]
    terms_of_service: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct InstanceVapid {
    public_key: String,
}

#[derive(Serialize, ToSchema)]
pub struct InstanceAccounts {
    max_display_name_length: u64,
    max_note_length: u64,
    max_featured_tags: u64,
    max_pinned_statuses: u64,
    max_profile_fields: u64,
    profile_field_name_limit: u64,
    profile_field_value_limit: u64,
}

#[derive(Serialize, ToSchema)]
pub struct InstanceTranslation {
    enabled: bool,
}

#[derive(Serialize, ToSchema)]
pub struct InstanceConfiguration {
    urls: InstanceUrls,
    vapid: InstanceVapid,
    accounts: InstanceAccounts,
    statuses: StatusesConfiguration,
    media_attachments: MediaConfiguration,
    polls: PollsConfiguration,
    translation: InstanceTranslation,
}

#[derive(Serialize, ToSchema)]
pub struct InstanceRegistrations {
    enabled: bool,
    approval_required: bool,
    reason_required: bool,
    #[schema(required = true)]
    message: Option<String>,
    #[schema(required = true)]
    min_age: Option<u64>,
    #[schema(required = true)]
    url: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct InstanceApiVersions {
    mastodon: u64,
}

#[derive(Serialize, ToSchema)]
pub struct InstanceContact {
    email: String,
    #[schema(required = true)]
    account: Option<Account>,
}

/// The Instance entity (v2).
#[derive(Serialize, ToSchema)]
pub struct Instance {
    domain: String,
    title: String,
    /// A Mastodon version, then `(compatible; starling …)`.
    version: String,
    source_url: String,
    description: String,
    usage: InstanceUsage,
    thumbnail: InstanceThumbnail,
    #[schema(value_type = Vec<Object>)]
    icon: Vec<Value>,
    languages: Vec<String>,
    configuration: InstanceConfiguration,
    registrations: InstanceRegistrations,
    api_versions: InstanceApiVersions,
    contact: InstanceContact,
    #[schema(value_type = Vec<Object>)]
    rules: Vec<Value>,
}

// --- apps, OAuth, sessions -----------------------------------------------------------

/// The Application entity.
#[derive(Serialize, ToSchema)]
pub struct Application {
    id: String,
    name: String,
    #[schema(required = true)]
    website: Option<String>,
    scopes: Vec<String>,
    /// The redirect URIs, one per line.
    redirect_uri: String,
    redirect_uris: Vec<String>,
    vapid_key: String,
}

/// The CredentialApplication entity: an Application with its client credentials, shown
/// once, when it is registered.
#[derive(Serialize, ToSchema)]
pub struct CredentialApplication {
    #[serde(flatten)]
    application: Application,
    client_id: String,
    client_secret: String,
    /// 0: never.
    client_secret_expires_at: i64,
}

/// The Token entity (RFC 6749 §5.1).
#[derive(Serialize, ToSchema)]
pub struct Token {
    access_token: String,
    /// `Bearer`.
    token_type: String,
    /// Space-separated scopes.
    scope: String,
    /// Unix time, seconds.
    created_at: i64,
    /// Seconds until the access token expires.
    expires_in: i64,
    /// Only for grants that issue one (authorization code, password, refresh).
    #[schema(required = false)]
    refresh_token: String,
}

/// Tokens of a first-party session: a short-lived access token and a rotating refresh
/// token.
#[derive(Serialize, ToSchema)]
pub struct SessionTokens {
    access_token: String,
    /// `Bearer`.
    token_type: String,
    expires_in: i64,
    refresh_token: String,
    scope: String,
    created_at: i64,
    session_id: String,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SessionKind {
    Oauth,
    FirstParty,
}

/// An auth session of the caller (an OAuth grant or a first-party login).
#[derive(Serialize, ToSchema)]
pub struct Session {
    id: String,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    last_used_at: String,
    #[schema(format = DateTime)]
    expires_at: String,
    /// The app's name, or the name given at login.
    client: String,
    kind: SessionKind,
    /// Space-separated scopes.
    scopes: String,
    user_agent: String,
    ip: String,
    /// Whether this is the session of the token making the request.
    current: bool,
}

/// How many sessions were ended.
#[derive(Serialize, ToSchema)]
pub struct Revoked {
    revoked: u64,
}

/// An empty object, Mastodon's answer to many actions.
#[derive(Serialize, ToSchema)]
pub struct Empty {}

/// RFC 8414 authorization server metadata.
#[derive(Serialize, ToSchema)]
pub struct OAuthMetadata {
    issuer: String,
    service_documentation: String,
    authorization_endpoint: String,
    token_endpoint: String,
    revocation_endpoint: String,
    app_registration_endpoint: String,
    jwks_uri: String,
    scopes_supported: Vec<String>,
    response_types_supported: Vec<String>,
    response_modes_supported: Vec<String>,
    code_challenge_methods_supported: Vec<String>,
    grant_types_supported: Vec<String>,
    token_endpoint_auth_methods_supported: Vec<String>,
}

/// One public key (RFC 8037 OKP, Ed25519).
#[derive(Serialize, ToSchema)]
pub struct Jwk {
    kty: String,
    crv: String,
    x: String,
    kid: String,
    alg: String,
    #[serde(rename = "use")]
    key_use: String,
}

/// The keys that verify starling's access tokens (JWTs).
#[derive(Serialize, ToSchema)]
pub struct JwkSet {
    keys: Vec<Jwk>,
}

/// `{"status": "ok"}` or `{"status": "ready"}`.
#[derive(Serialize, ToSchema)]
pub struct HealthStatus {
    status: String,
}

// --- moderation ----------------------------------------------------------------------

/// The Report entity, as its reporter sees it.
#[derive(Serialize, ToSchema)]
pub struct Report {
    id: String,
    action_taken: bool,
    #[schema(required = true)]
    action_taken_at: Option<String>,
    /// `spam`, `legal`, `violation` or `other`.
    category: String,
    comment: String,
    forwarded: bool,
    #[schema(format = DateTime)]
    created_at: String,
    status_ids: Vec<String>,
    rule_ids: Vec<String>,
    target_account: Account,
}

/// The Admin::Account entity.
#[derive(Serialize, ToSchema)]
#[schema(as = AdminAccount)]
pub struct AdminAccount {
    id: String,
    username: String,
    /// `null`: local.
    #[schema(required = true)]
    domain: Option<String>,
    #[schema(format = DateTime)]
    created_at: String,
    email: String,
    #[schema(required = true)]
    ip: Option<String>,
    #[schema(value_type = Vec<Object>)]
    ips: Vec<Value>,
    locale: String,
    #[schema(required = true)]
    invite_request: Option<String>,
    role: Role,
    confirmed: bool,
    approved: bool,
    disabled: bool,
    silenced: bool,
    suspended: bool,
    sensitized: bool,
    account: Account,
}

/// The Admin::Report entity.
#[derive(Serialize, ToSchema)]
#[schema(as = AdminReport)]
pub struct AdminReport {
    id: String,
    action_taken: bool,
    #[schema(required = true)]
    action_taken_at: Option<String>,
    category: String,
    comment: String,
    forwarded: bool,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    updated_at: String,
    /// The reporter (`null` if the account is gone).
    #[schema(required = true)]
    account: Option<AdminAccount>,
    #[schema(required = true)]
    target_account: Option<AdminAccount>,
    #[schema(required = true)]
    assigned_account: Option<AdminAccount>,
    #[schema(required = true)]
    action_taken_by_account: Option<AdminAccount>,
    #[schema(value_type = Vec<Status>)]
    statuses: Vec<Value>,
    #[schema(value_type = Vec<Object>)]
    rules: Vec<Value>,
}

/// One day of a measure.
#[derive(Serialize, ToSchema)]
pub struct MeasureData {
    /// Midnight UTC of the day.
    date: String,
    /// A count, as a decimal string.
    value: String,
}

/// The Admin::Measure entity.
#[derive(Serialize, ToSchema)]
#[schema(as = AdminMeasure)]
pub struct AdminMeasure {
    key: String,
    #[schema(required = true)]
    unit: Option<String>,
    /// A count, as a decimal string.
    total: String,
    previous_total: String,
    data: Vec<MeasureData>,
}
