"""The sandbox page (/sandbox) driven end to end in real headless Chromium (Debian's `chromium` and
`chromium-driver`, through Selenium): an API key, a WAV upload or a recording from the (fake) microphone, or a
custom voice; sync and async; the job watched to completion and the result loaded and played in the <audio>
element. Every request is the real /v1 API on the real stack. Also the Scalar API reference page."""
from __future__ import annotations

import shutil

import pytest
import requests

from tests import voice_audio

from . import v1_client as v1

pytestmark = pytest.mark.integration

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
JOB_TIMEOUT_S = 180


@pytest.fixture(scope="module")
def reference_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("sandbox") / "reference.wav"
    path.write_bytes(voice_audio.flite_wav(voice="awb"))
    return path


@pytest.fixture(scope="module")
def browser(reference_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--autoplay-policy=no-user-gesture-required",
                # getUserMedia answers at once with a microphone that "speaks" the reference recording
                "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                f"--use-file-for-fake-audio-capture={reference_path}"):
        options.add_argument(arg)
    # An explicit driver path: Selenium Manager never goes looking for (or downloading) a driver.
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_script_timeout(30)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def account(base_url, app_processes):
    return v1.new_account(base_url, "sandbox-v1", 20_000)


def open_sandbox(browser, base_url, key: str):
    from selenium.webdriver.common.by import By

    browser.get(f"{base_url}/sandbox")
    browser.find_element(By.ID, "api-key").send_keys(key)
    return browser


def submit_and_wait(browser, *, expect_async: bool) -> dict:
    """Submit the form, wait for the job to end in the page; returns what the page shows."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.find_element(By.ID, "submit").click()
    WebDriverWait(browser, JOB_TIMEOUT_S, poll_frequency=0.5).until(
        lambda d: d.find_element(By.ID, "status").get_attribute("data-state") in ("completed", "failed", "error"))
    state = browser.find_element(By.ID, "status").get_attribute("data-state")
    assert state == "completed", (browser.find_element(By.ID, "status").text,
                                  browser.find_element(By.ID, "job-json").text)
    job_text = browser.find_element(By.ID, "job-json").text
    assert "download_url" in job_text
    return {"job_id": browser.find_element(By.ID, "job-id").text.strip("()").split()[-1],
            "expect_async": expect_async}


def assert_audio_loaded_and_plays(browser) -> str:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    audio = browser.find_element(By.ID, "result-audio")
    assert audio.is_displayed()
    # HAVE_ENOUGH_DATA (4) or at least HAVE_CURRENT_DATA (2): the browser fetched and decoded the presigned URL.
    WebDriverWait(browser, 30, poll_frequency=0.2).until(
        lambda d: d.execute_script("return arguments[0].readyState >= 2 && arguments[0].duration > 0.5;", audio))
    duration = browser.execute_script("return arguments[0].duration;", audio)
    error = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "arguments[0].play().then(() => done(null), (e) => done(String(e)));", audio)
    assert error is None, error
    WebDriverWait(browser, 15, poll_frequency=0.1).until(
        lambda d: d.execute_script("return arguments[0].currentTime > 0.2;", audio))
    assert duration > 0.5
    link = browser.find_element(By.ID, "download-link")
    assert link.is_displayed() and link.get_attribute("href") == audio.get_attribute("src")
    return str(audio.get_attribute("src"))


def test_sandbox_sync_with_a_wav_upload_plays_the_result(browser, base_url, account, reference_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    before = v1.balance(base_url, account)
    open_sandbox(browser, base_url, account["X-API-Key"])
    browser.find_element(By.ID, "source-upload").click()
    browser.find_element(By.ID, "audio-file").send_keys(str(reference_path))
    text = browser.find_element(By.ID, "text")
    text.clear()
    text.send_keys("Hello from the sandbox page.")
    Select(browser.find_element(By.ID, "format")).select_by_value("mp3")
    browser.find_element(By.ID, "speed").send_keys("1.2")
    shown = submit_and_wait(browser, expect_async=False)
    src = assert_audio_loaded_and_plays(browser)
    downloaded = requests.get(src, timeout=30)
    assert downloaded.status_code == 200 and downloaded.headers["Content-Type"] == "audio/mpeg"
    job = v1.job(base_url, account, shown["job_id"]).json()
    assert job["parameters"]["speed"] == 1.2 and job["parameters"]["async_mode"] is False
    # The sandbox is the real API: the job was paid like any other.
    assert v1.balance(base_url, account) == before - len(b"Hello from the sandbox page.")


def test_sandbox_async_watches_the_job_then_plays_it(browser, base_url, account, reference_path):
    from selenium.webdriver.common.by import By

    open_sandbox(browser, base_url, account["X-API-Key"])
    browser.find_element(By.ID, "audio-file").send_keys(str(reference_path))
    browser.find_element(By.ID, "async").click()
    browser.find_element(By.ID, "duration").send_keys("4")
    shown = submit_and_wait(browser, expect_async=True)
    assert_audio_loaded_and_plays(browser)
    job = v1.job(base_url, account, shown["job_id"]).json()
    assert job["status"] == "completed" and job["parameters"]["async_mode"] is True
    assert job["result"]["duration"] == pytest.approx(4.0, rel=0.05)


def test_sandbox_records_a_reference_with_media_recorder(browser, base_url, account):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    open_sandbox(browser, base_url, account["X-API-Key"])
    browser.find_element(By.ID, "source-record").click()
    browser.find_element(By.ID, "record-start").click()
    WebDriverWait(browser, 10).until(lambda d: "Recording" in d.find_element(By.ID, "record-status").text)
    # Record until the fake microphone has played more than 8 s of the reference (the page shows the time).
    WebDriverWait(browser, 30, poll_frequency=0.5).until(lambda d: d.execute_script(
        "window.__t0 = window.__t0 || performance.now(); return performance.now() - window.__t0 > 9000;"))
    browser.find_element(By.ID, "record-stop").click()
    WebDriverWait(browser, 20).until(lambda d: "sent as WAV" in d.find_element(By.ID, "record-status").text)
    submit_and_wait(browser, expect_async=False)
    assert_audio_loaded_and_plays(browser)


def test_sandbox_lists_custom_voices_and_speaks_with_one(browser, base_url, account, reference_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    created = v1.create_voice(base_url, account, reference_path.read_bytes(), name="Sandbox voice")
    assert created.status_code == 201, created.text
    voice = v1.wait_voice(base_url, account, created.json()["id"])
    assert voice["status"] == "ready", voice
    open_sandbox(browser, base_url, account["X-API-Key"])
    browser.find_element(By.ID, "source-voice").click()
    browser.find_element(By.ID, "load-voices").click()
    WebDriverWait(browser, 20).until(lambda d: voice["id"] in d.execute_script(
        "return Array.from(document.querySelectorAll('#voice-select option'), o => o.value);"))
    Select(browser.find_element(By.ID, "voice-select")).select_by_value(voice["id"])
    browser.find_element(By.ID, "async").click()
    shown = submit_and_wait(browser, expect_async=True)
    assert_audio_loaded_and_plays(browser)
    job = v1.job(base_url, account, shown["job_id"]).json()
    assert job["parameters"]["voice_source"] == "custom_voice" and job["parameters"]["custom_voice_id"] == voice["id"]


def test_sandbox_with_a_bad_key_shows_the_401(browser, base_url, app_processes):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    open_sandbox(browser, base_url, "vf_wrong")
    browser.find_element(By.ID, "submit").click()
    WebDriverWait(browser, 20).until(
        lambda d: d.find_element(By.ID, "status").get_attribute("data-state") == "error")
    assert "Invalid API key" in browser.find_element(By.ID, "status").text


def test_scalar_reference_renders_both_surfaces_from_local_assets(browser, base_url, app_processes):
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(f"{base_url}/api/reference")
    WebDriverWait(browser, 60, poll_frequency=0.5).until(
        lambda d: all(tag in d.page_source for tag in ("v1-voice-cloning", "v1-custom-voices", "v1-jobs"))
        and "/api/v1/tts" in d.page_source)
    hosts = browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => new URL(e.name).host);")
    assert set(hosts) <= {base_url.split("//")[1]}, hosts  # no CDN, no fonts or scripts from elsewhere
