"""A device backend's side of events: tells Alexa that one of a user's devices
changed, through the Worker's /alexa/events (docs/skill.md section 4).

    OAUTH_ISSUER=... OAUTH_CLIENT_ID=... OAUTH_CLIENT_SECRET=... \\
        python report_change.py <sub> <endpoint id> ON|OFF

<sub> is our user id, as /userinfo and every access token name it. Prints the
answer; exits 1 unless Alexa took the event.
"""

import json
import sys
from datetime import datetime, timezone

from lambda_function import send_change_report


def main(argv):
    if len(argv) != 3 or argv[2] not in ("ON", "OFF"):
        print("usage: python report_change.py <sub> <endpoint id> ON|OFF", file=sys.stderr)
        return 2
    sub, endpoint_id, state = argv
    prop = {"namespace": "Alexa.PowerController", "name": "powerState", "value": state,
            "timeOfSample": datetime.now(timezone.utc).isoformat().replace("+00:00", "Z"),
            "uncertaintyInMilliseconds": 0}
    status, answer = send_change_report(sub, endpoint_id, [prop])
    print(json.dumps({"status": status, "body": answer}))
    return 0 if status == 202 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
