"""Setup and the back channel of login: register this server as an OAuth client (or take a
pre-provisioned one), build authorization URLs, exchange codes with the client secret (which
never leaves auth-svc), verify id_tokens, refresh and revoke. The gateway keeps state, nonce and
PKCE verifier; auth-svc never sees the browser."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlencode

import msgspec

from auth_svc.domain import AppStatus, User
from auth_svc.oidc import ClientCredentials, IdClaims, OidcProvider, TokenSet
from auth_svc.settings import AuthSettings
from auth_svc.store import App, AuthStore
from bodhi_common.clock import Clock
from bodhi_common.errors import FailedPrecondition, InvalidArgument, Unavailable
from bodhi_common.vault import Vault

# Names of auth's entries in the vault (not the values).
CLIENT_SECRET = "oidc/client_secret"  # noqa: S105
REGISTRATION_TOKEN = "oidc/registration_access_token"  # noqa: S105


class LoginResult(msgspec.Struct, frozen=True, kw_only=True):
    """A completed login: the person (with their role) and the provider's tokens."""

    user: User
    tokens: TokenSet
    became_admin: bool


class Login:
    """Setup, login, refresh and logout against the configured OpenID provider."""

    def __init__(
        self,
        provider: OidcProvider | None,
        store: AuthStore,
        vault: Vault,
        settings: AuthSettings,
        clock: Clock,
    ) -> None:
        self._provider = provider
        self._store = store
        self._vault = vault
        self._settings = settings
        self._clock = clock

    @property
    def has_provider(self) -> bool:
        """Whether an issuer is configured."""
        return self._provider is not None

    @property
    def provider(self) -> OidcProvider:
        """The provider; FailedPrecondition when no issuer is configured."""
        if self._provider is None:
            raise FailedPrecondition(
                "no identity provider is configured (BODHI_OIDC_ISSUER)", code="no_provider"
            )
        return self._provider

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock.now(), UTC)

    async def setup(self, name: str, description: str, redirect_uris: list[str]) -> AppStatus:
        """Register this server (once): its client secret goes to the vault."""
        if len(name) < 10:
            raise InvalidArgument(
                "the server name must be at least 10 characters", code="invalid_name", param="name"
            )
        if not redirect_uris:
            raise InvalidArgument("no redirect URI to register", code="invalid_redirect_uris")
        async with self._store.setup_lock() as conn:
            if await self._store.app_status() != AppStatus.SETUP:
                raise FailedPrecondition("this server is already set up", code="already_setup")
            client_id = await self._register(name, redirect_uris)
            await self._store.insert_app(
                conn, name=name, description=description, client_id=client_id,
                redirect_uris=redirect_uris, at=self._now(),
            )  # fmt: skip
        return AppStatus.RESOURCE_ADMIN

    async def _register(self, name: str, redirect_uris: list[str]) -> str:
        configured = self._configured_client()
        if configured is not None:
            return configured.client_id
        registration = await self.provider.register_client(
            name=name,
            redirect_uris=redirect_uris,
            initial_access_token=self._settings.bodhi_oidc_registration_token,
        )
        await self._vault.put(CLIENT_SECRET, registration.client_secret.encode())
        if registration.registration_access_token:
            await self._vault.put(
                REGISTRATION_TOKEN, registration.registration_access_token.encode()
            )
        return registration.client_id

    def _configured_client(self) -> ClientCredentials | None:
        s = self._settings
        if s.bodhi_oidc_client_id and s.bodhi_oidc_client_secret:
            return ClientCredentials(
                client_id=s.bodhi_oidc_client_id, client_secret=s.bodhi_oidc_client_secret
            )
        return None

    async def client(self) -> tuple[ClientCredentials, App]:
        """This server's client credentials and its app row (status, redirect URIs)."""
        app = await self._store.app()
        if app is None or app.client_id is None or app.status == AppStatus.SETUP:
            raise FailedPrecondition("this server is not set up yet", code="app_not_setup")
        configured = self._configured_client()
        if configured is not None:
            return configured, app
        secret = await self._vault.get(CLIENT_SECRET)
        if secret is None:
            raise Unavailable(
                "the client secret is missing from the vault", code="no_client_secret"
            )
        return ClientCredentials(client_id=app.client_id, client_secret=secret.decode()), app

    async def begin(
        self, *, redirect_uri: str, state: str, nonce: str, code_challenge: str
    ) -> tuple[str, str, bool]:
        """(authorization URL, issuer, whether the provider sends RFC 9207 `iss`)."""
        client, app = await self.client()
        if redirect_uri not in app.redirect_uris:
            raise InvalidArgument(
                "the redirect URI is not one this server registered",
                code="redirect_uri_not_registered",
                param="redirect_uri",
            )
        meta = await self.provider.metadata()
        url = self.provider.authorization_url(
            meta, client_id=client.client_id, redirect_uri=redirect_uri, state=state,
            nonce=nonce, code_challenge=code_challenge,
        )  # fmt: skip
        return url, meta.issuer, meta.iss_parameter_supported

    async def complete(
        self, *, code: str, code_verifier: str, nonce: str, redirect_uri: str
    ) -> LoginResult:
        """Exchange the code, verify the id_token, and record the person."""
        client, app = await self.client()
        if redirect_uri not in app.redirect_uris:
            raise InvalidArgument("unknown redirect URI", code="redirect_uri_not_registered")
        tokens = await self.provider.exchange_code(
            client, code=code, code_verifier=code_verifier, redirect_uri=redirect_uri
        )
        if tokens.id_token is None:
            raise InvalidArgument("the provider returned no id_token", code="id_token_missing")
        claims = await self.provider.verify_id_token(
            tokens.id_token, client_id=client.client_id, nonce=nonce
        )
        user = await self._store.upsert_user(_user(claims), claims.issuer, self._now())
        became_admin = app.status == AppStatus.RESOURCE_ADMIN and user.role is not None
        return LoginResult(user=user, tokens=tokens, became_admin=became_admin)

    async def refresh(self, refresh_token: str) -> TokenSet:
        """New tokens from a refresh token (rotated when the provider rotates)."""
        client, _app = await self.client()
        return await self.provider.refresh(client, refresh_token)

    async def logout(
        self, *, refresh_token: str, post_logout_redirect_uri: str
    ) -> tuple[bool, str]:
        """Revoke the refresh token (RFC 7009) and build the provider's end-session URL. The URL
        names the client, not the id_token: it goes to a browser, and tokens never do."""
        client, _app = await self.client()
        revoked = bool(refresh_token) and await self.provider.revoke(client, refresh_token)
        meta = await self.provider.metadata()
        end_session = ""
        if meta.end_session_endpoint:
            query = {"client_id": client.client_id}
            if post_logout_redirect_uri:
                query["post_logout_redirect_uri"] = post_logout_redirect_uri
            end_session = f"{meta.end_session_endpoint}?{urlencode(query)}"
        return revoked, end_session


def _user(claims: IdClaims) -> User:
    return User(
        user_id=claims.subject,
        username=claims.username,
        email=claims.email,
        first_name=claims.first_name,
        last_name=claims.last_name,
    )
