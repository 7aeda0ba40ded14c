// The API client: credentials, refresh-token rotation, JSON calls and errors.
//
// The access token lives in this module's memory only. The refresh token is kept in
// sessionStorage (this tab, gone when the tab closes) so that a reload does not sign the user out;
// docs/design.md ("Web client") says why there and not in localStorage or a cookie. Every refresh
// rotates it (the server revokes the whole family if an old one is reused), and concurrent callers
// share one refresh in flight so a tab never presents the same token twice.

const REFRESH_KEY = "parley.refresh_token";

/** An API error: the HTTP status, the error type and message, and Retry-After in seconds. */
export class ApiError extends Error {
    constructor(status, type, message, retryAfter = null) {
        super(message);
        this.status = status;
        this.type = type;
        this.retryAfter = retryAfter;
    }
}

/** Builds an ApiError from a non-2xx response (the envelope, or whatever the body is). */
export async function errorOf(res) {
    let type = "api_error";
    let message = `HTTP ${res.status}`;
    try {
        const body = await res.json();
        type = body?.error?.type ?? type;
        message = body?.error?.message ?? message;
    } catch {
        // not JSON: keep the status line
    }
    const ra = res.headers.get("retry-after");
    const retryAfter = ra !== null && /^\d+$/.test(ra) ? Number(ra) : null;
    return new ApiError(res.status, type, message, retryAfter);
}

export class Api {
    constructor() {
        this.accessToken = null;
        this.expiresAt = 0;
        this.openMode = false;
        this.refreshing = null;
        /** Called when the credentials are gone (refresh refused): show the sign-in page. */
        this.onSignedOut = () => {};
    }

    get refreshToken() {
        return sessionStorage.getItem(REFRESH_KEY);
    }

    /**
     * The server in AUTH_MODE=open answers without credentials as its local user: then the page
     * needs no sign-in. Resolves the user, or null when credentials are required.
     */
    async probeOpenMode() {
        try {
            const res = await fetch("/api/v1/auth/me", { headers: { accept: "application/json" } });
            if (res.ok) {
                this.openMode = true;
                return (await res.json()).data;
            }
        } catch {
            // the server is unreachable: the sign-in page will say so
        }
        return null;
    }

    /** Signs back in from the stored refresh token (after a reload). Resolves the user or null. */
    async resume() {
        if (!this.refreshToken) {
            return null;
        }
        try {
            await this.refresh();
            return (await this.json("GET", "/api/v1/auth/me")).data;
        } catch {
            this.clear();
            return null;
        }
    }

    /** `mode` is "login" or "register". Resolves the user; throws ApiError. */
    async signIn(mode, email, password) {
        const res = await fetch(`/api/v1/auth/${mode}`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ email, password }),
        });
        if (!res.ok) {
            throw await errorOf(res);
        }
        const data = (await res.json()).data;
        this.keep(data);
        return data.user;
    }

    /** Revokes the refresh token's family on the server and forgets every credential. */
    async signOut() {
        const token = this.refreshToken;
        if (token && this.accessToken) {
            await this.json("POST", "/api/v1/auth/logout", { refresh_token: token }).catch(() => {});
        }
        this.clear();
    }

    keep(pair) {
        this.accessToken = pair.access_token;
        this.expiresAt = Date.now() + Number(pair.expires_in ?? 0) * 1000;
        sessionStorage.setItem(REFRESH_KEY, pair.refresh_token);
    }

    clear() {
        this.accessToken = null;
        this.expiresAt = 0;
        sessionStorage.removeItem(REFRESH_KEY);
    }

    /** Rotates the refresh token; one rotation at a time, shared by every caller. */
    refresh() {
        if (!this.refreshing) {
            this.refreshing = (async () => {
                const token = this.refreshToken;
                if (!token) {
                    throw new ApiError(401, "authentication_error", "signed out");
                }
                const res = await fetch("/api/v1/auth/refresh", {
                    method: "POST",
                    headers: { "content-type": "application/json" },
                    body: JSON.stringify({ refresh_token: token }),
                });
                if (!res.ok) {
                    const err = await errorOf(res);
                    if (res.status === 401 || res.status === 403 || res.status === 422) {
                        this.clear();
                    }
                    throw err;
                }
                this.keep((await res.json()).data);
            })().finally(() => {
                this.refreshing = null;
            });
        }
        return this.refreshing;
    }

    async authHeaders() {
        if (this.openMode) {
            return {};
        }
        if (!this.accessToken || Date.now() > this.expiresAt - 30_000) {
            await this.refresh();
        }
        return { authorization: `Bearer ${this.accessToken}` };
    }

    /**
     * fetch() with the credential; on a 401 refreshes once and tries again; when that fails the
     * user is signed out. `init.signal` aborts as usual.
     */
    async fetch(path, init = {}) {
        for (let attempt = 0; ; ++attempt) {
            let auth;
            try {
                auth = await this.authHeaders();
            } catch (err) {
                if (err instanceof ApiError && err.status === 401) {
                    this.onSignedOut();
                }
                throw err;
            }
            const res = await fetch(path, { ...init, headers: { ...(init.headers ?? {}), ...auth } });
            if (res.status !== 401 || this.openMode) {
                return res;
            }
            if (attempt > 0 || !this.refreshToken) {
                this.clear();
                this.onSignedOut();
                return res;
            }
            this.accessToken = null;  // expired or revoked: the next round refreshes
        }
    }

    /**
     * A JSON call: resolves the parsed body (null for 204), throws ApiError otherwise. `body` is
     * serialised, unless `raw` says it is JSON text already (a file being imported, sent as read).
     */
    async json(method, path, body, { raw = false } = {}) {
        const init = { method, headers: { accept: "application/json" } };
        if (body !== undefined) {
            init.headers["content-type"] = "application/json";
            init.body = raw ? body : JSON.stringify(body);
        }
        const res = await this.fetch(path, init);
        if (!res.ok) {
            throw await errorOf(res);
        }
        if (res.status === 204) {
            return null;
        }
        return res.json();
    }
}

export const api = new Api();
