"""An Alexa smart-home skill's Lambda handler (Python 3.12) that knows, for
every directive, which of our users it is for.

Settings (environment):
  OAUTH_ISSUER       our Worker's origin, e.g. https://auth.example.com
  OAUTH_CLIENT_ID    this skill's client id at the Worker (`admin client add
                     --id`): a token issued to another client is refused
  TOKEN_CHECK        "jwks" (the default): verify the ES256 access token offline
                     against the Worker's key set, cached; "userinfo": ask the
                     Worker's /userinfo, with a short cache
  OAUTH_CLIENT_SECRET
                     this skill's client secret at the Worker: AcceptGrant is
                     forwarded to the Worker's /alexa/accept-grant, which keeps
                     the event tokens (docs/skill.md section 4)
  ALEXA_REGION       NA, EU or FE: where this Lambda's directives come from;
                     by default from AWS_REGION (us-east-1 NA, eu-west-1 EU,
                     us-west-2 FE)

The error rule (docs/skill.md): INVALID_AUTHORIZATION_CREDENTIAL only when the
Worker said the token is bad (a 401, or a signature that fails), which makes
Alexa unlink the user; INTERNAL_ERROR for anything else (a timeout, a 5xx, the
Worker unreachable), which does not. A token up to LEEWAY seconds past its
expiry is still served.

The only dependency is PyJWT with its crypto extra (requirements.txt).
"""

import base64
import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from datetime import datetime, timezone

import jwt

LEEWAY = 60
KEYS_MAX_AGE = 300
USERINFO_CACHE_SECONDS = 60
TIMEOUT = 3


def settings():
    return {
        "issuer": os.environ.get("OAUTH_ISSUER", "").rstrip("/"),
        "client_id": os.environ.get("OAUTH_CLIENT_ID", ""),
        "check": os.environ.get("TOKEN_CHECK", "jwks"),
        "client_secret": os.environ.get("OAUTH_CLIENT_SECRET", ""),
        "region": os.environ.get("ALEXA_REGION") or region_of(os.environ.get("AWS_REGION", "")),
    }


def region_of(aws_region):
    """The Alexa region whose directives reach a Lambda in this AWS region."""
    if aws_region.startswith("eu-"):
        return "EU"
    if aws_region == "us-west-2" or aws_region.startswith("ap-"):
        return "FE"
    return "NA"


class Refusal(Exception):
    """Why a directive cannot be served: the Alexa error type to answer with."""

    def __init__(self, type_, message):
        super().__init__(message)
        self.type = type_
        self.message = message


def invalid(why):
    return Refusal("INVALID_AUTHORIZATION_CREDENTIAL", why)


def expired(why):
    return Refusal("EXPIRED_AUTHORIZATION_CREDENTIAL", why)


def internal(why):
    return Refusal("INTERNAL_ERROR", why)


def call(url, data=None, headers=None):
    """(status, body bytes); any failure to get an answer is INTERNAL_ERROR."""
    request = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except (urllib.error.URLError, TimeoutError, OSError) as e:
        raise internal(f"could not reach {url}: {e}") from e


# ---- Who is this directive for? ---------------------------------------------

_keys = {"set": None, "fetched_at": 0.0}


def _key_set(issuer, refresh):
    """The Worker's key set, kept KEYS_MAX_AGE s and fetched again for an unknown kid."""
    if refresh or _keys["set"] is None or time.time() - _keys["fetched_at"] > KEYS_MAX_AGE:
        status, body = call(f"{issuer}/.well-known/jwks.json")
        if status != 200:
            raise internal(f"the key set answered {status}")
        _keys["set"] = jwt.PyJWKSet.from_dict(json.loads(body))
        _keys["fetched_at"] = time.time()
    return _keys["set"]


def _public_key(issuer, kid):
    for refresh in (False, True):
        for key in _key_set(issuer, refresh).keys:
            if key.key_id == kid:
                return key
    # A kid the Worker does not publish: not one of its tokens.
    raise invalid("the token names a key the authorization server does not have")


def check_audience(claims, client_id):
    """The token is for this skill: its audience (`aud`, RFC 9068), or, in a
    token from before the Worker wrote `aud`, its `client_id`."""
    audience = claims.get("aud", claims.get("client_id"))
    if audience != client_id:
        raise invalid(f"issued to {audience}, not to this skill ({client_id})")


def check_offline(token, issuer, client_id):
    """The ES256 signature against the served key set, then iss, aud and exp."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError as e:
        raise invalid("not a JWT") from e
    if header.get("alg") != "ES256":
        raise invalid(f"alg {header.get('alg')}: this skill accepts ES256 only "
                      '(set ACCESS_TOKEN_ALG = "ES256" on the Worker)')
    key = _public_key(issuer, header.get("kid"))
    try:
        # `aud` is checked below, where a token without one may name its client.
        claims = jwt.decode(token, key, algorithms=["ES256"], issuer=issuer, leeway=LEEWAY,
                            options={"require": ["exp", "iss", "sub"], "verify_aud": False})
    except jwt.ExpiredSignatureError as e:
        raise expired("the token expired") from e
    except jwt.InvalidTokenError as e:
        raise invalid(f"the token does not verify: {e}") from e
    check_audience(claims, client_id)
    if not claims.get("gid"):
        raise invalid("not a token issued for a user")
    return {"sub": claims["sub"], "name": claims.get("name", ""), "bridge_url": claims.get("bridge_url")}


_answers = {}


def check_online(token, issuer, client_id):
    """The Worker's /userinfo, remembered until the token expires (at most a minute)."""
    now = time.time()
    cached = _answers.get(token)
    if cached and cached[1] > now:
        return cached[0]
    status, body = call(f"{issuer}/userinfo", headers={"Authorization": f"Bearer {token}"})
    if status == 401:
        raise invalid("the authorization server refused the token")
    if status != 200:
        raise internal(f"/userinfo answered {status}")
    answer = json.loads(body)
    user = {"sub": answer["sub"], "name": answer.get("name", ""), "bridge_url": answer.get("bridge_url")}
    # The Worker vouched for the token, so its payload is the one it signed.
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.InvalidTokenError:
        claims = {}
    check_audience(claims, client_id)
    exp = claims["exp"] if isinstance(claims.get("exp"), int) else now
    _answers[token] = (user, min(exp, now + USERINFO_CACHE_SECONDS))
    if len(_answers) > 1000:
        _answers.pop(next(iter(_answers)))
    return user


def user_of(token):
    s = settings()
    if not token:
        raise invalid("no token in the directive")
    if not s["issuer"]:
        raise internal("OAUTH_ISSUER is not set")
    if not s["client_id"]:
        raise internal("OAUTH_CLIENT_ID is not set")
    if s["check"] == "userinfo":
        return check_online(token, s["issuer"], s["client_id"])
    return check_offline(token, s["issuer"], s["client_id"])


# ---- The user's devices ------------------------------------------------------

# A demo list per user. A real skill asks the user's bridge for its accessories:
# its URL is the user's `bridge_url` claim, which the operator sets with
# `admin user update --claim bridge_url=...` and every token carries. Here it
# only travels in each endpoint's cookie, which Alexa sends back.
_powered = {}


def devices_of(user):
    return [
        {"id": f"{user['sub']}:lamp", "name": "Lamp", "category": "LIGHT"},
        {"id": f"{user['sub']}:fan", "name": "Fan", "category": "FAN"},
    ]


def power_property(endpoint_id):
    return {
        "namespace": "Alexa.PowerController",
        "name": "powerState",
        "value": "ON" if _powered.get(endpoint_id) else "OFF",
        "timeOfSample": datetime.now(timezone.utc).isoformat().replace("+00:00", "Z"),
        "uncertaintyInMilliseconds": 500,
    }


# ---- AcceptGrant and events, through the Worker ----------------------------

def to_worker(path, body):
    """A JSON POST to the Worker with this skill's credentials (HTTP Basic): (status, JSON or None)."""
    s = settings()
    if not (s["issuer"] and s["client_id"] and s["client_secret"]):
        raise internal("OAUTH_ISSUER, OAUTH_CLIENT_ID and OAUTH_CLIENT_SECRET must be set")
    pair = f"{urllib.parse.quote(s['client_id'], safe='')}:{urllib.parse.quote(s['client_secret'], safe='')}"
    basic = base64.b64encode(pair.encode()).decode()
    status, answer = call(f"{s['issuer']}{path}", data=json.dumps(body).encode(),
                          headers={"Content-Type": "application/json", "Authorization": f"Basic {basic}"})
    try:
        return status, json.loads(answer) if answer else None
    except ValueError:
        return status, None


def accept_grant(code, grantee_token):
    """The Worker exchanges the code at Login with Amazon and keeps the tokens
    for the user our access token names; the skill keeps nothing."""
    status, answer = to_worker("/alexa/accept-grant",
                               {"code": code, "grantee_token": grantee_token, "region": settings()["region"]})
    if status != 200:
        raise Refusal("ACCEPT_GRANT_FAILED", (answer or {}).get("error_description") or f"the Worker answered {status}")


def send_change_report(sub, endpoint_id, properties, cause="PHYSICAL_INTERACTION"):
    """What a device backend calls when a device changes: a ChangeReport for one
    of `sub`'s endpoints, which the Worker sends to the user's region. The
    status is the gateway's (202 when Alexa took it); 404 means the user has no
    event tokens (no AcceptGrant, or the link ended), 409 that Alexa no longer
    accepts them until the user links again."""
    message = {
        "event": {
            "header": {"namespace": "Alexa", "name": "ChangeReport", "payloadVersion": "3",
                       "messageId": str(uuid.uuid4())},
            "endpoint": {"endpointId": endpoint_id},
            "payload": {"change": {"cause": {"type": cause}, "properties": properties}},
        },
        "context": {"properties": []},
    }
    return to_worker("/alexa/events", {"sub": sub, "message": message})


# ---- The handler -------------------------------------------------------------

def _header(namespace, name, directive):
    h = {"namespace": namespace, "name": name, "payloadVersion": "3", "messageId": str(uuid.uuid4())}
    if directive["header"].get("correlationToken"):
        h["correlationToken"] = directive["header"]["correlationToken"]
    return h


def _error(directive, refusal):
    namespace = "Alexa.Authorization" if directive["header"]["namespace"] == "Alexa.Authorization" else "Alexa"
    event = {"header": _header(namespace, "ErrorResponse", directive),
             "payload": {"type": refusal.type, "message": refusal.message}}
    if directive.get("endpoint"):
        event["endpoint"] = {"endpointId": directive["endpoint"]["endpointId"]}
    return {"event": event}


def _serve(directive):
    namespace, name = directive["header"]["namespace"], directive["header"]["name"]
    payload = directive.get("payload", {})
    if (namespace, name) == ("Alexa.Discovery", "Discover"):
        user = user_of(payload.get("scope", {}).get("token"))
        endpoints = [{
            "endpointId": d["id"],
            "manufacturerName": "alexa-oauth example",
            "friendlyName": d["name"],
            "description": f"{d['name']} of {user['name'] or user['sub']}",
            "displayCategories": [d["category"]],
            "cookie": {"bridge_url": user["bridge_url"]} if user.get("bridge_url") else {},
            "capabilities": [
                {"type": "AlexaInterface", "interface": "Alexa", "version": "3"},
                {"type": "AlexaInterface", "interface": "Alexa.PowerController", "version": "3",
                 "properties": {"supported": [{"name": "powerState"}], "retrievable": True,
                                "proactivelyReported": False}},
            ],
        } for d in devices_of(user)]
        return {"event": {"header": _header("Alexa.Discovery", "Discover.Response", directive),
                          "payload": {"endpoints": endpoints}}}
    if (namespace, name) == ("Alexa.Authorization", "AcceptGrant"):
        accept_grant(payload.get("grant", {}).get("code"), payload.get("grantee", {}).get("token"))
        return {"event": {"header": _header("Alexa.Authorization", "AcceptGrant.Response", directive),
                          "payload": {}}}
    endpoint = directive.get("endpoint") or {}
    user = user_of(endpoint.get("scope", {}).get("token"))
    if not any(d["id"] == endpoint.get("endpointId") for d in devices_of(user)):
        raise Refusal("NO_SUCH_ENDPOINT", "not one of this user's devices")
    if namespace == "Alexa.PowerController" and name in ("TurnOn", "TurnOff"):
        _powered[endpoint["endpointId"]] = name == "TurnOn"
    elif (namespace, name) != ("Alexa", "ReportState"):
        raise Refusal("INVALID_DIRECTIVE", f"{namespace}.{name} is not supported")
    return {
        "event": {
            "header": _header("Alexa", "StateReport" if name == "ReportState" else "Response", directive),
            "endpoint": {"scope": endpoint["scope"], "endpointId": endpoint["endpointId"]},
            "payload": {},
        },
        "context": {"properties": [power_property(endpoint["endpointId"])]},
    }


def lambda_handler(event, context):
    directive = event["directive"]
    try:
        return _serve(directive)
    except Refusal as e:
        print(json.dumps({"directive": f"{directive['header']['namespace']}.{directive['header']['name']}",
                          "error": e.type, "reason": e.message}))
        if e.type == "ACCEPT_GRANT_FAILED":
            return {"event": {"header": _header("Alexa.Authorization", "ErrorResponse", directive),
                              "payload": {"type": e.type, "message": e.message}}}
        return _error(directive, e)
    except Exception as e:  # noqa: BLE001 - anything unexpected is the skill's fault, not the user's
        print(json.dumps({"error": "INTERNAL_ERROR", "reason": repr(e)}))
        return _error(directive, internal("unexpected error"))
