"""The console walkthrough in a real headless Chromium (Debian's, driven by
its chromedriver through Selenium; nothing is downloaded).

Run by tests/it/console.rs, which starts podiam, sets up the seed's role and
passes everything through the environment. Screenshots go to SCREENSHOTS.
Exits non-zero, with the reason, on the first failed expectation.
"""

import json
import os
import subprocess
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait

E = os.environ
URL = E["CONSOLE_URL"]
SHOTS = E["SCREENSHOTS"]
os.makedirs(SHOTS, exist_ok=True)

opts = webdriver.ChromeOptions()
opts.binary_location = E.get("CHROMIUM", "/usr/bin/chromium")
for a in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
          "--window-size=1400,1000", "--no-first-run", "--disable-extensions",
          "--disable-background-networking", "--disable-component-update"]:
    opts.add_argument(a)
opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
driver = webdriver.Chrome(service=Service(E.get("CHROMEDRIVER", "/usr/bin/chromedriver")), options=opts)
wait = WebDriverWait(driver, 10)


def shot(name):
    driver.save_screenshot(os.path.join(SHOTS, f"{name}.png"))


def fail(msg):
    shot("failure")
    for entry in driver.get_log("browser"):
        print("browser:", entry["level"], entry["message"], file=sys.stderr)
    print(f"FAIL: {msg}\n--- page text ---\n{driver.find_element(By.TAG_NAME, 'body').text[:4000]}",
          file=sys.stderr)
    driver.quit()
    sys.exit(1)


def css(sel):
    return driver.find_elements(By.CSS_SELECTOR, sel)


def until(what, f, timeout=10):
    end = time.time() + timeout
    while time.time() < end:
        try:
            v = f()
            if v:
                return v
        except Exception:  # the page is still rendering
            pass
        time.sleep(0.05)
    fail(f"timed out waiting for {what}")


def text_of(sel):
    return " ".join(e.text for e in css(sel))


def go(route):
    driver.get(URL + route)


def api_status(method, path, body=None):
    """What the console's API answers this browser now (with its cookie)."""
    return driver.execute_async_script(
        """const [m, p, b, done] = arguments;
        fetch(p, {method: m, credentials: 'same-origin',
                  headers: {'Content-Type': 'application/json', 'X-CSRF-Token': 'x'},
                  body: b}).then(r => done(r.status), e => done(String(e)));""",
        method, URL + path, body)


try:
    # 1. Sign in with the admin's key.
    go("")
    until("the sign-in form", lambda: css("#signin-form"))
    shot("01-sign-in")
    css("#access-key-id")[0].send_keys(E["ADMIN_AKID"])
    css("#secret-access-key")[0].send_keys(E["ADMIN_SECRET"])
    css("#signin-submit")[0].click()
    until("the signed-in principal", lambda: ":root" in text_of("[data-testid=whoami]"))
    if E["ADMIN_SECRET"] in driver.page_source:
        fail("the secret key is in the page")

    # 2. The seed's role: its trust conditions, and who can assume it.
    go("#/roles/" + E["ROLE_NAME"])
    until("the role page", lambda: css("[data-testid=role-page]"))
    sub = f'system:serviceaccount:{E["NAMESPACE"]}:{E["SERVICE_ACCOUNT"]}'
    until("the sub condition", lambda: any(
        ":sub" in li.text and "StringEquals" in li.text and sub in li.text
        for li in css("[data-testid=trust-conditions] li")))
    until("the aud condition", lambda: any(
        ":aud" in li.text and "sts.amazonaws.com" in li.text
        for li in css("[data-testid=trust-conditions] li")))
    until("who can assume it", lambda: any(
        E["SERVICE_ACCOUNT"] in r.text and E["NAMESPACE"] in r.text
        for r in css("[data-testid=who-can-assume] [data-testid=assumer]")))
    until("the near miss", lambda: any(
        E["WRONG_NAMESPACE"] in r.text for r in css("[data-testid=near-miss]")))
    shot("02-role")

    # 2b. The other pages, each a real call: the cluster (issuer, discovery
    # document, keys and their state, service accounts), Pod Identity, S3
    # and DynamoDB with their resource policies.
    go("#/clusters/demo")
    until("the signing key", lambda: "signing" in text_of("[data-testid=key-state]"))
    until("the discovery document", lambda: "jwks_uri" in text_of("[data-testid=discovery]"))
    until("the annotated service account", lambda: any(
        E["SERVICE_ACCOUNT"] in r.text and E["ROLE_ARN"] in r.text
        for r in css("[data-testid=service-account]")))
    shot("02b-cluster")
    go("#/associations")
    until("the association", lambda: E["PIA_ROLE_ARN"] in text_of("[data-testid=association]"))
    go("#/buckets")
    until("the bucket policy", lambda: E["BUCKET"] in text_of("[data-testid=bucket]")
          and "s3:GetObject" in text_of("[data-testid=bucket-policy]"))
    go("#/tables")
    until("the table's resource policy", lambda: E["TABLE"] in text_of("[data-testid=table]")
          and "dynamodb:GetItem" in text_of("[data-testid=table-policy]"))
    shot("02c-tables")

    # 3. A denied AssumeRoleWithWebIdentity appears live, explained.
    go("#/decisions")
    until("the decisions page", lambda: css("[data-testid=decisions]"))
    box = css("#filter-denied")[0]
    if not box.is_selected():
        box.click()
    time.sleep(0.5)  # the stream reconnects with ?denied=1
    before = len(css("[data-testid=event][data-denied=true]"))
    out = subprocess.run(
        ["aws", "sts", "assume-role-with-web-identity", "--role-arn", E["ROLE_ARN"],
         "--role-session-name", "wrong-namespace", "--web-identity-token", E["WRONG_TOKEN"]],
        capture_output=True, text=True)
    sent = time.time()
    if out.returncode == 0 or "AccessDenied" not in out.stderr:
        fail(f"the wrong namespace's token was not refused: {out.stdout} {out.stderr}")

    def fresh():
        rows = [r for r in css("[data-testid=event][data-denied=true]")
                if "AssumeRoleWithWebIdentity" in r.text]
        return rows if len(css("[data-testid=event][data-denied=true]")) > before else None
    rows = until("the denial on the Decisions page", fresh, timeout=2)
    latency = time.time() - sent
    print(f"denial shown {latency * 1000:.0f} ms after the CLI returned")
    rows[0].click()
    until("its explain chain", lambda: css("[data-testid=explain-chain]"))
    wrong_sub = f'system:serviceaccount:{E["WRONG_NAMESPACE"]}:{E["SERVICE_ACCOUNT"]}'
    until("actual against expected", lambda: wrong_sub in text_of("[data-testid=explain-detail]")
          and sub in text_of("[data-testid=explain-detail]"))
    shot("03-decision")

    # 4. What if: the same decision and reason as `podiam explain request`.
    go("#/whatif")
    until("the what-if form", lambda: css("#whatif-submit"))
    Select(css("#whatif-kind")[0]).select_by_value("role")
    for sel, value in [("#whatif-role", E["ROLE_ARN"]), ("#whatif-action", E["WHATIF_ACTION"]),
                       ("#whatif-resource", E["WHATIF_RESOURCE"])]:
        el = css(sel)[0]
        el.clear()
        el.send_keys(value)
    css("#whatif-submit")[0].click()
    until("the what-if decision", lambda: text_of("#whatif-decision").strip() == E["EXPECT_DECISION"])
    until("the what-if summary", lambda: text_of("#whatif-summary").strip() == E["EXPECT_SUMMARY"])
    shot("04-what-if")

    # 5. Sign out: the pages and the API refuse.
    css("#signout")[0].click()
    until("the sign-in form again", lambda: css("#signin-form") and css("#signin-form")[0].is_displayed())
    go("#/roles/" + E["ROLE_NAME"])
    until("a refusal", lambda: css("#signin-form") and css("#signin-form")[0].is_displayed())
    if css("[data-testid=trust-conditions] li"):
        fail("the role's page still shows after sign-out")
    for method, path, body in [("GET", "api/me", None), ("GET", "api/events", None),
                               ("POST", "api/call", json.dumps({"service": "iam", "action": "ListRoles"}))]:
        status = api_status(method, path, body)
        if status != 401:
            fail(f"{method} {path} after sign-out answered {status}")
    shot("05-signed-out")
    if E["ADMIN_SECRET"] in driver.page_source or "eyJ" in driver.page_source:
        fail("a secret or token is in the page")
    print("console walkthrough passed")
finally:
    driver.quit()
