"""The one door to the LINE Messaging API (line-bot-sdk v3 over HTTP).

Every call classifies its outcome so the outbox can decide: sent, retry later, fall back from
reply to push, or give up. Hosts come from LINE_API_BASE_URL / LINE_DATA_API_BASE_URL so tests and
development mode talk to a local fake Messaging API through the real SDK.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

import urllib3
from linebot.v3.messaging import (
    ApiClient,
    Configuration,
    MessagingApi,
    MessagingApiBlob,
    ShowLoadingAnimationRequest,
)
from linebot.v3.messaging.exceptions import ApiException

log = logging.getLogger(__name__)

Outcome = Literal["ok", "invalid_reply_token", "retry", "ambiguous", "permanent"]
MULTICAST_LIMIT = 500  # LINE: at most 500 user ids per multicast request
LOADING_MAX_SECONDS = 60  # LINE: loadingSeconds 5..60 in steps of 5


@dataclass
class SendResult:
    outcome: Outcome
    status: int | None = None
    detail: str = ""
    retry_after: float | None = None

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"


def _classify(error: Exception) -> SendResult:
    if isinstance(error, ApiException):
        status = error.status or 0
        body = error.body.decode("utf-8", "replace") if isinstance(error.body, bytes) else str(error.body or "")
        if status == 409:
            # Same X-Line-Retry-Key already accepted: the earlier attempt went through.
            return SendResult("ok", status, "accepted earlier (409)")
        if status == 400 and "reply token" in body.lower():
            return SendResult("invalid_reply_token", status, body[:200])
        if status == 429 or status >= 500:
            retry_after = None
            for key, value in (error.headers or {}).items():
                if key.lower() == "retry-after":
                    try:
                        retry_after = float(value)
                    except ValueError:
                        pass
            return SendResult("retry", status, body[:200], retry_after)
        return SendResult("permanent", status, body[:200])
    if isinstance(error, (urllib3.exceptions.ReadTimeoutError, urllib3.exceptions.ProtocolError)):
        # The request may have reached LINE: the outcome is unknown.
        return SendResult("ambiguous", None, type(error).__name__)
    if isinstance(error, (urllib3.exceptions.HTTPError, OSError)):
        return SendResult("retry", None, type(error).__name__)
    raise error


class LineGateway:
    def __init__(self, *, access_token: str, api_base_url: str | None, data_api_base_url: str | None,
                 timeout: float = 10.0, pool_size: int = 16):
        self.timeout = timeout
        api_config = Configuration(access_token=access_token, host=api_base_url)
        data_config = Configuration(access_token=access_token, host=data_api_base_url)
        for config in (api_config, data_config):
            # Retries are the outbox's job (with backoff and a retry key), never urllib3's.
            config.retries = False
            config.connection_pool_maxsize = pool_size
        self._api_client = ApiClient(api_config)
        self._data_client = ApiClient(data_config)
        self.api = MessagingApi(self._api_client)
        self.blob = MessagingApiBlob(self._data_client)

    def close(self) -> None:
        self._api_client.close()
        self._data_client.close()

    def _call(self, fn, *args, **kwargs) -> SendResult:
        try:
            fn(*args, _request_timeout=(3, self.timeout), **kwargs)
            return SendResult("ok", 200)
        except Exception as error:  # classified, never swallowed silently
            return _classify(error)

    # --- sending -----------------------------------------------------------------------------
    # Messages are plain LINE JSON built and checked by bot.messages (LINE's limits by
    # construction), so they go out through the SDK's ApiClient as they are: the generated
    # per-endpoint methods would turn each dict into pydantic models and straight back into the
    # same JSON, which cost more CPU than everything else on the reply path (make bench).
    # Endpoint, auth, headers, timeouts and ApiException are the SDK's own.
    def _post_messages(self, path: str, body: dict, *, retry_key: str | None = None) -> SendResult:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if retry_key:
            headers["X-Line-Retry-Key"] = retry_key
        return self._call(self._api_client.call_api, path, "POST", header_params=headers, body=body,
                          auth_settings=["Bearer"], response_types_map={})

    def reply(self, *, reply_token: str, messages: list[dict]) -> SendResult:
        return self._post_messages("/v2/bot/message/reply", {"replyToken": reply_token, "messages": messages})

    def push(self, *, to: str, messages: list[dict], retry_key: str) -> SendResult:
        return self._post_messages("/v2/bot/message/push", {"to": to, "messages": messages}, retry_key=retry_key)

    def multicast(self, *, to: list[str], messages: list[dict], retry_key: str) -> SendResult:
        if not 1 <= len(to) <= MULTICAST_LIMIT:
            raise ValueError(f"multicast takes 1..{MULTICAST_LIMIT} recipients, got {len(to)}")
        return self._post_messages("/v2/bot/message/multicast", {"to": to, "messages": messages}, retry_key=retry_key)

    def broadcast(self, *, messages: list[dict], retry_key: str) -> SendResult:
        return self._post_messages("/v2/bot/message/broadcast", {"messages": messages}, retry_key=retry_key)

    def show_loading(self, *, chat_id: str, seconds: int = 5) -> SendResult:
        seconds = max(5, min(LOADING_MAX_SECONDS, 5 * round(seconds / 5)))
        request = ShowLoadingAnimationRequest(chatId=chat_id, loadingSeconds=seconds)
        return self._call(self.api.show_loading_animation, request)

    def install_rich_menu(self, *, definition: dict, image_png: bytes) -> str:
        """Create the rich menu, upload its image, make it everyone's default; returns its id."""
        from linebot.v3.messaging import RichMenuRequest

        timeout = (3, self.timeout)
        created = self.api.create_rich_menu(RichMenuRequest.from_dict(definition), _request_timeout=timeout)
        self.blob.set_rich_menu_image(created.rich_menu_id, image_png, _request_timeout=timeout,
                                      _headers={"Content-Type": "image/png"})
        self.api.set_default_rich_menu(created.rich_menu_id, _request_timeout=timeout)
        return created.rich_menu_id

    # --- reading -----------------------------------------------------------------------------
    def get_profile(self, user_id: str) -> dict | None:
        try:
            profile = self.api.get_profile(user_id, _request_timeout=(3, self.timeout))
            return {"display_name": profile.display_name, "picture_url": profile.picture_url}
        except Exception as error:
            log.warning("profile fetch failed", extra={"error": type(error).__name__})
            return None

    def get_content(self, message_id: str) -> bytes | None:
        try:
            return bytes(self.blob.get_message_content(message_id, _request_timeout=(3, self.timeout)))
        except Exception as error:
            log.warning("content fetch failed", extra={"error": type(error).__name__})
            return None

