"""`python -m tests.fakes` (or `make fakes`): fake nps.today and Dixa APIs for demos.

Point the platform at them with NPSTODAY_API_URL and DIXA_API_URL. Script failures with
e.g. `curl -X POST localhost:9101/__fake__/script -d '{"behaviours": [{"status": 503}]}'`."""

import argparse
import time

from tests.fakes.dixa import FakeDixa
from tests.fakes.npstoday import FakeNpsToday


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--npstoday-port", type=int, default=9101)
    parser.add_argument("--dixa-port", type=int, default=9102)
    parser.add_argument("--npstoday-key", action="append", default=None)
    parser.add_argument("--dixa-token", action="append", default=None)
    args = parser.parse_args()
    nps = FakeNpsToday(api_keys=args.npstoday_key or ["nps-test-key"]).start(
        port=args.npstoday_port
    )
    dixa = FakeDixa(tokens=args.dixa_token or ["dixa-test-token"]).start(port=args.dixa_port)
    print(f"fake nps.today: {nps.url}  (API key(s): {', '.join(nps.api_keys)})", flush=True)
    print(f"fake Dixa:      {dixa.url}  (token(s): {', '.join(dixa.tokens)})", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        nps.stop()
        dixa.stop()


if __name__ == "__main__":
    main()
