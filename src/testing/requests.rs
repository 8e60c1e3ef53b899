//! The requests tests make most, as [`Server`] methods: a login, a code, a
//! link, a token request, a refresh, `/userinfo`, a provider sign-in start.

use base64::Engine;
use serde_json::Value;

use super::{
    auth_query, exchange, form_fields, hidden_fields, query_param, set_cookie, Browser, Server,
    LAYLA, SECRET,
};
use crate::http::{Method, Request, Response};

impl Server {
    /// A linked account: (access token, refresh token).
    pub fn link(&self) -> (String, String) {
        let code = self.code("");
        let (status, t) = self.token(&exchange(&code), false);
        assert_eq!(status, 200, "{t}");
        (
            t["access_token"].as_str().unwrap().into(),
            t["refresh_token"].as_str().unwrap().into(),
        )
    }

    /// A form POST with the Alexa client's credentials in the body.
    pub fn client_post(&self, path: &str, body: &str, client_id: &str) -> (u16, String) {
        let r = self.send(
            Request::new(Method::Post, path)
                .with_header("content-type", "application/x-www-form-urlencoded")
                .with_body(format!(
                    "{body}&client_id={client_id}&client_secret={SECRET}"
                )),
        );
        (r.status, r.body_text().to_owned())
    }

    /// A JSON POST with the Alexa client's credentials in HTTP Basic:
    /// (status, JSON answer, or `null`).
    pub fn json_post(&self, path: &str, body: &Value) -> (u16, Value) {
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("alexa:{SECRET}"));
        let r = self.send(
            Request::new(Method::Post, path)
                .with_header("content-type", "application/json")
                .with_header("authorization", &format!("Basic {basic}"))
                .with_body(body.to_string()),
        );
        let answer = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
        (r.status, answer)
    }

    /// The skill forwarding an AcceptGrant for `access_token`'s link, with a
    /// fresh code from the stand-in LWA.
    pub fn accept_grant(&self, access_token: &str, region: &str) -> (u16, Value) {
        let code = self.outbound.amazon.grant_code();
        let body =
            serde_json::json!({"code": code, "grantee_token": access_token, "region": region});
        self.json_post("/alexa/accept-grant", &body)
    }

    /// The skill's backend sending a ChangeReport for `sub`.
    pub fn send_change_report(&self, sub: &str) -> (u16, Value) {
        let message = serde_json::json!({"event": {
            "header": {"namespace": "Alexa", "name": "ChangeReport", "payloadVersion": "3",
                       "messageId": "m-1"},
            "endpoint": {"endpointId": "lamp-1"},
            "payload": {"change": {"cause": {"type": "PHYSICAL_INTERACTION"}, "properties": []}}},
            "context": {"properties": []}});
        self.json_post(
            "/alexa/events",
            &serde_json::json!({"sub": sub, "message": message}),
        )
    }

    /// GET /authorize, then the login form as a browser would post it.
    pub fn login(&self, query: &str, username: &str, password: &str, action: &str) -> Response {
        self.login_from(query, username, password, action, &Browser::default())
    }

    /// The same, from a given address and browser (cookies it already holds).
    pub fn login_from(
        &self,
        query: &str,
        username: &str,
        password: &str,
        action: &str,
        browser: &Browser,
    ) -> Response {
        self.send(self.login_post(query, username, password, action, browser))
    }

    /// Shows the login page, then builds (without sending) the form post a
    /// browser would make from it.
    pub fn login_post(
        &self,
        query: &str,
        username: &str,
        password: &str,
        action: &str,
        browser: &Browser,
    ) -> Request {
        let with_browser = |mut r: Request, cookie: Option<&str>| {
            if let Some(ip) = &browser.ip {
                r = r.with_header("cf-connecting-ip", ip);
            }
            let cookies: Vec<&str> = cookie
                .into_iter()
                .chain(browser.cookie.as_deref())
                .collect();
            if !cookies.is_empty() {
                r = r.with_header("cookie", &cookies.join("; "));
            }
            r
        };
        let page = self.send(with_browser(
            Request::new(Method::Get, &format!("/authorize?{query}")),
            None,
        ));
        assert_eq!(page.status, 200, "{}", page.body_text());
        let cookie = set_cookie(&page);
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        for (name, value) in hidden_fields(page.body_text()) {
            form.append_pair(&name, &value);
        }
        form.append_pair("username", username);
        form.append_pair("password", password);
        form.append_pair("action", action);
        with_browser(
            Request::new(Method::Post, "/authorize")
                .with_header("content-type", "application/x-www-form-urlencoded")
                .with_body(form.finish()),
            Some(&cookie),
        )
    }

    /// The login page, then its button for `provider`, pressed as a browser
    /// at `ip` would: the start's answer, and the cookies the browser then
    /// holds (the login form's nonce, and the pending sign-in if one was set).
    pub fn provider_start(&self, provider: &str, ip: &str) -> (Response, String) {
        let page = self.send(
            Request::new(
                Method::Get,
                &format!("/authorize?{}", auth_query(LAYLA, "")),
            )
            .with_header("cf-connecting-ip", ip),
        );
        assert_eq!(page.status, 200, "{}", page.body_text());
        let nonce = set_cookie(&page);
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        let action = format!("/signin/{provider}");
        for (name, value) in form_fields(page.body_text(), &action) {
            form.append_pair(&name, &value);
        }
        let r = self.send(
            Request::new(Method::Post, &action)
                .with_header("content-type", "application/x-www-form-urlencoded")
                .with_header("cf-connecting-ip", ip)
                .with_header("cookie", &nonce)
                .with_body(form.finish()),
        );
        let cookies = match r.get_header("set-cookie") {
            Some(_) => format!("{nonce}; {}", set_cookie(&r)),
            None => nonce,
        };
        (r, cookies)
    }

    /// A whole login, returning the code.
    pub fn code(&self, extra: &str) -> String {
        let r = self.login(&auth_query(LAYLA, extra), "alice", "correct horse", "login");
        assert_eq!(r.status, 303, "{}", r.body_text());
        let loc = r.get_header("location").unwrap();
        assert!(loc.starts_with(&format!("{LAYLA}?code=")), "{loc}");
        assert!(loc.ends_with("&state=st%20ate%2F1"), "{loc}");
        query_param(loc, "code").unwrap()
    }

    pub fn token(&self, body: &str, basic: bool) -> (u16, Value) {
        let mut req = Request::new(Method::Post, "/token").with_header(
            "content-type",
            "application/x-www-form-urlencoded;charset=UTF-8",
        );
        let body = if basic {
            let b64 = base64::engine::general_purpose::STANDARD.encode(format!("alexa:{SECRET}"));
            req = req.with_header("authorization", &format!("Basic {b64}"));
            body.to_owned()
        } else {
            format!("{body}&client_id=alexa&client_secret={SECRET}")
        };
        let r = self.send(req.with_body(body));
        if r.status == 200 {
            assert_eq!(r.get_header("cache-control"), Some("no-store"));
            assert_eq!(r.get_header("pragma"), Some("no-cache"));
        }
        (r.status, serde_json::from_slice(&r.body).unwrap())
    }

    /// A refresh with the Alexa client's credentials in the body.
    pub fn refresh(&self, refresh_token: &str) -> (u16, Value) {
        self.token(
            &format!("grant_type=refresh_token&refresh_token={refresh_token}"),
            false,
        )
    }

    /// `GET /userinfo` with `access_token` as the bearer.
    pub fn userinfo(&self, access_token: &str) -> Response {
        self.send(
            Request::new(Method::Get, "/userinfo")
                .with_header("authorization", &format!("Bearer {access_token}")),
        )
    }
}
