//! The authorization endpoint (RFC 6749 §3.1, §4.1.1-§4.1.2): the login page, and
//! a code for the client once the user has signed in.
//!
//! `GET /authorize` checks the request and shows the login form. The form posts
//! back to `POST /authorize` with the same request in hidden fields, which is
//! checked again in full, so nothing the browser sends is trusted.
//!
//! Until the client and its redirect URI are known to be good, errors are HTML
//! pages and never redirects (§4.1.2.1, §10.15). After that, errors go back to the
//! client's redirect URI with `error`, `error_description` and `state`.

use crate::crypto::{b64url, ct_eq, hmac_sha256, random_string, token_hash};
use crate::error::{ErrorCode, OAuthError};
use crate::form::{append_query, is_form_content_type, Params};
use crate::http::{LogFields, Method, Request, Response};
use crate::page::{render_login, Login};
use crate::password::{verify_dummy, verify_password};
use crate::pkce;
use crate::store::{normalize_username, ClientRecord, CodeRecord, GrantType, Store};
use crate::throttle;
use crate::types::{ClientId, GrantId, Password, RedirectUri, ScopeSet};
use crate::{Ctx, CODE_TTL};

/// How long a login form stays valid.
const FORM_TTL: u64 = 30 * 60;

/// A checked authorization request.
struct AuthRequest {
    client: ClientRecord,
    redirect_uri: RedirectUri,
    /// Whether `redirect_uri` was in the request (it must then be repeated at /token).
    redirect_given: bool,
    state: Option<String>,
    scope: ScopeSet,
    code_challenge: Option<String>,
}

/// Handles `/authorize`.
pub async fn handle<S: Store>(req: &Request, ctx: &Ctx<'_, S>) -> Response {
    let https = req.is_https();
    let mut log = LogFields::default();
    let response = match req.method() {
        Method::Get | Method::Head => match Params::parse(req.query.as_bytes()) {
            Err(e) => bad_request_page(&e, https),
            Ok(params) => match validate(&params, ctx, https, &mut log).await {
                Err(r) => r,
                Ok(ar) => login_page(req, ctx, &ar, None, "", 200),
            },
        },
        Method::Post => post(req, ctx, &mut log).await,
        Method::Other => Response::error_page(
            405,
            "Method not allowed",
            "This address takes GET and POST only.",
            https,
        )
        .header("allow", "GET, HEAD, POST"),
    };
    response.with_log(log)
}

/// The form submission: sign in, or cancel.
async fn post<S: Store>(req: &Request, ctx: &Ctx<'_, S>, log: &mut LogFields) -> Response {
    let https = req.is_https();
    let Some(body) = req.body.as_deref() else {
        return Response::error_page(413, "Request too large", "The form was too large.", https);
    };
    if !req.header("content-type").is_some_and(is_form_content_type) {
        let e = OAuthError::invalid_request("the form must be application/x-www-form-urlencoded");
        return bad_request_page(&e, https);
    }
    let mut params = match Params::parse(body) {
        Ok(p) => p,
        Err(e) => return bad_request_page(&e, https),
    };
    let ar = match validate(&params, ctx, https, log).await {
        Ok(ar) => ar,
        Err(r) => return r,
    };
    let Ok(key) = ctx.config.signing_key.as_ref() else {
        return config_error_page(https, log);
    };
    let csrf_key = key.derive(b"login-form-csrf");
    let csrf_ok = match (req.cookie(csrf_cookie_name(https)), params.get("csrf")) {
        (Some(nonce), Some(token)) => check_csrf(&csrf_key, nonce, token, &ar, ctx.now),
        _ => false,
    };
    if !csrf_ok {
        log.reason = Some("login form CSRF check failed");
        let msg = "This sign-in form has expired. Please sign in again.";
        return login_page(req, ctx, &ar, Some(msg), "", 403);
    }
    if params.get("action") == Some("cancel") {
        log.reason = Some("the user cancelled");
        return redirect_error(
            &ar,
            &OAuthError::new(ErrorCode::AccessDenied, "the user cancelled the request"),
            log,
        );
    }

    let username = normalize_username(params.get("username").unwrap_or(""));
    let password = Password::new(params.take("password").unwrap_or_default());
    if username.is_empty() || password.secret().is_empty() {
        let msg = "Enter your username and password.";
        return login_page(req, ctx, &ar, Some(msg), &username, 400);
    }
    // Brute force: a locked username or address is refused before any password check.
    let ip = throttle::client_ip(req);
    let limits = [
        (&throttle::LOGIN_PER_USERNAME, username.as_str()),
        (&throttle::LOGIN_PER_IP, ip),
    ];
    for (limit, subject) in limits {
        match throttle::locked(ctx.store, limit, subject, ctx.now).await {
            Ok(None) => {}
            Ok(Some(wait)) => return too_many_tries(req, ctx, &ar, &username, wait, log),
            Err(_) => return unavailable_page(https, log),
        }
    }
    let user = match ctx.store.user(&username).await {
        Ok(user) => user,
        Err(_) => return unavailable_page(https, log),
    };
    let user = match user {
        Some(user) if verify_password(&user.password_hash, &password) => user,
        found => {
            if found.is_none() {
                verify_dummy(&password); // Same time as a real check.
            }
            log.reason = Some("wrong username or password");
            let mut wait = None;
            for (limit, subject) in limits {
                if let Ok(Some(w)) =
                    throttle::record_failure(ctx.store, limit, subject, ctx.now).await
                {
                    wait = Some(w);
                }
            }
            if let Some(wait) = wait {
                return too_many_tries(req, ctx, &ar, &username, wait, log);
            }
            let msg = "Incorrect username or password.";
            return login_page(req, ctx, &ar, Some(msg), &username, 401);
        }
    };

    // §4.1.2 and §10.10: 256 random bits, stored only as a hash, short-lived. The
    // code names its grant (`<grant id>.<secret>`), so the exchange goes straight
    // to the grant's record, or to its Durable Object.
    let grant_id = GrantId::new(random_string(ctx.rng, 16));
    let code = format!("{grant_id}.{}", random_string(ctx.rng, 32));
    let record = CodeRecord {
        client_id: ar.client.client_id.clone(),
        redirect_uri: ar.redirect_given.then(|| ar.redirect_uri.clone()),
        user_id: user.id,
        display_name: user.display_name,
        scope: ar.scope.clone(),
        code_challenge: ar.code_challenge.clone(),
        expires_at: ctx.now + CODE_TTL,
        grant_id,
        used: false,
    };
    if ctx
        .store
        .put_code(&token_hash(&code), &record)
        .await
        .is_err()
    {
        return unavailable_page(https, log);
    }
    let mut pairs = vec![("code", code.as_str())];
    if let Some(state) = &ar.state {
        pairs.push(("state", state));
    }
    Response::redirect(append_query(ar.redirect_uri.as_str(), &pairs))
}

/// Checks an authorization request. `Err` is the finished answer: an HTML page
/// while the client or redirect URI is in doubt, a redirect afterwards.
async fn validate<S: Store>(
    params: &Params,
    ctx: &Ctx<'_, S>,
    https: bool,
    log: &mut LogFields,
) -> Result<AuthRequest, Response> {
    let page = |title: &str, detail: &str| Response::error_page(400, title, detail, https);
    let Some(client_id) = params.get("client_id") else {
        log.reason = Some("client_id is missing");
        return Err(page(
            "This link request is incomplete",
            "The request names no client (client_id is missing).",
        ));
    };
    log.client_id = Some(client_id.chars().take(64).collect());
    let client = match ctx.store.client(&ClientId::new(client_id)).await {
        Ok(Some(c)) => c,
        Ok(None) => {
            log.reason = Some("unknown client_id");
            return Err(page(
                "Unknown application",
                "The application asking to link is not registered with this server.",
            ));
        }
        Err(_) => return Err(unavailable_page(https, log)),
    };
    // §3.1.2.3: exact match against the registered URIs; without a redirect_uri,
    // only a client with a single registered URI can be served.
    let (redirect_uri, redirect_given) = match params.get("redirect_uri") {
        Some(uri) => match client.redirect_uris.iter().find(|r| r.as_str() == uri) {
            Some(r) => (r.clone(), true),
            None => {
                log.reason = Some("redirect_uri is not registered for this client");
                return Err(page(
                    "Unregistered redirect address",
                    "The address this request would return to is not registered for this \
                     application, so the request was stopped. If you run this server, add it \
                     with the admin command (for Alexa: client add --alexa <vendor id>).",
                ));
            }
        },
        None if client.redirect_uris.len() == 1 => (client.redirect_uris[0].clone(), false),
        None => {
            log.reason = Some("redirect_uri is missing and the client has several");
            return Err(page(
                "This link request is incomplete",
                "The request does not say where to return (redirect_uri is missing).",
            ));
        }
    };

    let state = params.get("state").map(str::to_owned);
    let mut ar = AuthRequest {
        client,
        redirect_uri,
        redirect_given,
        state,
        scope: ScopeSet::default(),
        code_challenge: None,
    };
    // From here on the redirect URI is trusted: errors go back to the client.
    let fail = |ar: &AuthRequest, err: OAuthError, log: &mut LogFields| {
        log.reason = Some(err.description);
        Err(redirect_error(ar, &err, log))
    };
    match params.get("response_type") {
        Some("code") => {}
        None => {
            return fail(
                &ar,
                OAuthError::invalid_request("response_type is missing"),
                log,
            )
        }
        Some(_) => {
            let e = OAuthError::new(
                ErrorCode::UnsupportedResponseType,
                "only response_type=code is supported",
            );
            return fail(&ar, e, log);
        }
    }
    if !ar.client.allows(GrantType::AuthorizationCode) {
        let e =
            OAuthError::unauthorized_client("this client may not use the authorization code grant");
        return fail(&ar, e, log);
    }
    let scope = match params.get("scope") {
        None => ar.client.scope.narrowed_to(None),
        Some(s) => ScopeSet::parse(s).and_then(|s| ar.client.scope.narrowed_to(Some(&s))),
    };
    ar.scope = match scope {
        Some(s) => s,
        None => {
            let e = OAuthError::invalid_scope(
                "the requested scope is malformed or not allowed for this client",
            );
            return fail(&ar, e, log);
        }
    };
    // RFC 7636 §4.3, §4.4.1: S256 only; a challenge without a method means `plain`.
    match (
        params.get("code_challenge"),
        params.get("code_challenge_method"),
    ) {
        (None, None) => {}
        (Some(challenge), Some("S256")) if pkce::is_valid_challenge(challenge) => {
            ar.code_challenge = Some(challenge.to_owned());
        }
        (Some(_), Some("S256")) => {
            let e = OAuthError::invalid_request("code_challenge is not a valid S256 challenge");
            return fail(&ar, e, log);
        }
        (None, Some(_)) => {
            let e = OAuthError::invalid_request("code_challenge_method without code_challenge");
            return fail(&ar, e, log);
        }
        (Some(_), _) => {
            let e = OAuthError::invalid_request(
                "code_challenge_method must be S256; plain is not supported",
            );
            return fail(&ar, e, log);
        }
    }
    Ok(ar)
}

/// §4.1.2.1: back to the client with `error`, `error_description` and `state`.
fn redirect_error(ar: &AuthRequest, err: &OAuthError, log: &mut LogFields) -> Response {
    log.error = Some(err.code.as_str());
    let mut pairs = vec![
        ("error", err.code.as_str()),
        ("error_description", err.description),
    ];
    if let Some(state) = &ar.state {
        pairs.push(("state", state));
    }
    Response::redirect(append_query(ar.redirect_uri.as_str(), &pairs))
}

/// 429: the login form again, saying when to retry.
fn too_many_tries<S>(
    req: &Request,
    ctx: &Ctx<'_, S>,
    ar: &AuthRequest,
    username: &str,
    wait: u64,
    log: &mut LogFields,
) -> Response {
    log.reason = Some("too many failed sign-ins");
    let minutes = wait.div_ceil(60);
    let msg = format!(
        "Too many failed sign-ins. Try again in {minutes} minute{}.",
        if minutes == 1 { "" } else { "s" }
    );
    login_page(req, ctx, ar, Some(&msg), username, 429).header("retry-after", wait.to_string())
}

fn bad_request_page(err: &OAuthError, https: bool) -> Response {
    let mut r = Response::error_page(
        400,
        "This link request is not valid",
        err.description,
        https,
    );
    r.log.error = Some(err.code.as_str());
    r.log.reason = Some(err.description);
    r
}

fn unavailable_page(https: bool, log: &mut LogFields) -> Response {
    log.error = Some(ErrorCode::TemporarilyUnavailable.as_str());
    log.reason = Some("storage unavailable");
    Response::error_page(
        503,
        "Please try again",
        "The sign-in service is briefly unavailable. Go back and try again in a moment.",
        https,
    )
    .header("retry-after", "2")
}

fn config_error_page(https: bool, log: &mut LogFields) -> Response {
    log.error = Some(ErrorCode::ServerError.as_str());
    log.reason = Some("SIGNING_KEY is not configured");
    Response::error_page(
        500,
        "Server not configured",
        "This sign-in service is missing its signing key. Its operator must set SIGNING_KEY.",
        https,
    )
}

/// `scheme://authority` of a registered redirect URI (registration checked it is
/// an absolute http(s) URL). Done by hand: a URL parser would bring IDNA tables
/// into the wasm for a value that is already known to be well formed.
fn origin_of(uri: &str) -> Option<&str> {
    let rest = uri
        .strip_prefix("https://")
        .or_else(|| uri.strip_prefix("http://"))?;
    let authority = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    (authority > 0).then(|| &uri[..uri.len() - rest.len() + authority])
}

/// The CSRF cookie. `__Host-` binds it to this exact origin, but browsers accept
/// that prefix only with `Secure`, so plain-HTTP local development uses a plain name.
fn csrf_cookie_name(https: bool) -> &'static str {
    if https {
        "__Host-login-csrf"
    } else {
        "login-csrf"
    }
}

/// The bytes a CSRF token signs: the browser session's nonce, the expiry, and the
/// whole authorization request, so a token is good for one session and one request.
fn csrf_input(nonce: &str, exp: u64, ar: &AuthRequest) -> Vec<u8> {
    let fields = [
        nonce,
        &exp.to_string(),
        ar.client.client_id.as_str(),
        ar.redirect_uri.as_str(),
        ar.state.as_deref().unwrap_or(""),
        &ar.scope.to_string(),
        ar.code_challenge.as_deref().unwrap_or(""),
    ];
    let mut out = Vec::new();
    for f in fields {
        // Length-prefixed, so no two different field lists give the same bytes.
        out.extend_from_slice(&(f.len() as u32).to_be_bytes());
        out.extend_from_slice(f.as_bytes());
    }
    out
}

fn csrf_token(key: &[u8], nonce: &str, exp: u64, ar: &AuthRequest) -> String {
    format!(
        "{exp}.{}",
        b64url(&hmac_sha256(key, &csrf_input(nonce, exp, ar)))
    )
}

fn check_csrf(key: &[u8], nonce: &str, token: &str, ar: &AuthRequest, now: u64) -> bool {
    let Some((exp, _)) = token.split_once('.') else {
        return false;
    };
    let Ok(exp) = exp.parse::<u64>() else {
        return false;
    };
    exp > now && ct_eq(csrf_token(key, nonce, exp, ar).as_bytes(), token.as_bytes())
}

/// The login form for a checked request, with a CSRF token bound to this browser.
fn login_page<S>(
    req: &Request,
    ctx: &Ctx<'_, S>,
    ar: &AuthRequest,
    error: Option<&str>,
    username: &str,
    status: u16,
) -> Response {
    let https = req.is_https();
    let Ok(key) = ctx.config.signing_key.as_ref() else {
        return config_error_page(https, &mut LogFields::default());
    };
    let cookie_name = csrf_cookie_name(https);
    // Keep the browser's nonce if it has a sane one, so two open tabs both work.
    let existing = req.cookie(cookie_name).filter(|n| {
        n.len() == 22
            && n.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    });
    let nonce = existing
        .map(str::to_owned)
        .unwrap_or_else(|| random_string(ctx.rng, 16));
    let exp = ctx.now + FORM_TTL;
    let mut hidden = vec![
        ("response_type", "code".to_owned()),
        ("client_id", ar.client.client_id.to_string()),
        ("scope", ar.scope.to_string()),
    ];
    if ar.redirect_given {
        hidden.push(("redirect_uri", ar.redirect_uri.to_string()));
    }
    if let Some(state) = &ar.state {
        hidden.push(("state", state.clone()));
    }
    if let Some(challenge) = &ar.code_challenge {
        hidden.push(("code_challenge", challenge.clone()));
        hidden.push(("code_challenge_method", "S256".to_owned()));
    }
    hidden.push((
        "csrf",
        csrf_token(&key.derive(b"login-form-csrf"), &nonce, exp, ar),
    ));
    let body = render_login(&Login {
        client_name: &ar.client.name,
        scopes: ar.scope.iter().map(|s| s.as_str()).collect(),
        error,
        username,
        hidden,
    });
    let mut r = Response::html(status, body, https);
    if let Some(origin) = origin_of(ar.redirect_uri.as_str()) {
        r = r.allow_form_target(origin);
    }
    if existing.is_none() {
        let secure = if https { "; Secure" } else { "" };
        r = r.header(
            "set-cookie",
            format!(
                "{cookie_name}={nonce}; Path=/; Max-Age={FORM_TTL}; HttpOnly; SameSite=Lax{secure}"
            ),
        );
    }
    r
}

#[cfg(test)]
mod tests {
    use super::origin_of;

    #[test]
    fn origins() {
        assert_eq!(
            origin_of("https://layla.amazon.com/api/skill/link/M2"),
            Some("https://layla.amazon.com")
        );
        assert_eq!(
            origin_of("http://localhost:8787/demo/callback"),
            Some("http://localhost:8787")
        );
        assert_eq!(
            origin_of("https://a.example?x=1"),
            Some("https://a.example")
        );
        assert_eq!(origin_of("https://"), None);
        assert_eq!(origin_of("myapp:/cb"), None);
    }
}
