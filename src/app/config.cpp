#include "app/config.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>

#include "auth/passwords.hpp"
#include "common/strings.hpp"
#include "redis/url.hpp"
#include "store/store.hpp"

namespace parley::app {

namespace {

using Apply = std::function<std::optional<std::string>(std::string_view, Config&)>;

std::optional<std::int64_t> parse_int(std::string_view text) {
    text = trim(text);
    std::int64_t v = 0;
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc{} || ptr != text.data() + text.size() || text.empty()) {
        return std::nullopt;
    }
    return v;
}

template <class T>
Apply integer(T Config::*field, std::int64_t min, std::int64_t max) {
    return [field, min, max](std::string_view text, Config& c) -> std::optional<std::string> {
        const auto v = parse_int(text);
        if (!v || *v < min || *v > max) {
            return "must be an integer from " + std::to_string(min) + " to " + std::to_string(max);
        }
        c.*field = static_cast<T>(*v);
        return std::nullopt;
    };
}

Apply seconds(std::chrono::milliseconds Config::*field, double min, double max) {
    return [field, min, max](std::string_view text, Config& c) -> std::optional<std::string> {
        const std::string s(trim(text));
        char* end = nullptr;
        const double v = s.empty() ? NAN : std::strtod(s.c_str(), &end);
        if (s.empty() || end != s.c_str() + s.size() || !std::isfinite(v) || v < min || v > max) {
            return "must be a number of seconds from " + std::to_string(static_cast<int>(min)) +
                   " to " + std::to_string(static_cast<int>(max));
        }
        c.*field = std::chrono::milliseconds(static_cast<std::int64_t>(std::llround(v * 1000)));
        return std::nullopt;
    };
}

Apply boolean(bool Config::*field) {
    return [field](std::string_view text, Config& c) -> std::optional<std::string> {
        const auto v = to_lower(trim(text));
        if (v == "true" || v == "1" || v == "yes" || v == "on") {
            c.*field = true;
        } else if (v == "false" || v == "0" || v == "no" || v == "off") {
            c.*field = false;
        } else {
            return "must be true or false";
        }
        return std::nullopt;
    };
}

Apply text(std::string Config::*field) {
    return [field](std::string_view value, Config& c) -> std::optional<std::string> {
        c.*field = std::string(trim(value));
        return std::nullopt;
    };
}

Apply url_with_scheme(std::string Config::*field, std::vector<std::string_view> schemes) {
    return [field, schemes](std::string_view value, Config& c) -> std::optional<std::string> {
        const auto v = trim(value);
        if (!v.empty()) {
            bool ok = false;
            for (const auto s : schemes) {
                ok = ok || v.starts_with(s);
            }
            if (!ok) {
                std::string expected;
                for (const auto s : schemes) {
                    expected += expected.empty() ? "" : " or ";
                    expected += std::string(s) + "…";
                }
                return "must start with " + expected;
            }
        }
        c.*field = std::string(v);
        return std::nullopt;
    };
}

std::vector<Setting> make_settings() {
    return {
        {"HOST", "127.0.0.1", "Address to listen on", false, text(&Config::host)},
        {"PORT",
         "8000",
         "Port to listen on (0: any free port)",
         false,
         integer(&Config::port, 0, 65535)},
        {"DATA_DIR",
         "data",
         "Directory for the SQLite database and generated secrets",
         false,
         text(&Config::data_dir)},
        {"ENVIRONMENT",
         "development",
         "development or production (production requires JWT_SECRET)",
         false,
         [](std::string_view v, Config& c) -> std::optional<std::string> {
             const auto value = to_lower(trim(v));
             if (value != "development" && value != "production") {
                 return "must be development or production";
             }
             c.environment = value;
             return std::nullopt;
         }},
        {"AUTH_MODE",
         "required",
         "required (every API request carries a credential) or open (a request without one acts "
         "as the built-in local user: single-user mode; refused with ENVIRONMENT=production)",
         false,
         [](std::string_view v, Config& c) -> std::optional<std::string> {
             const auto value = to_lower(trim(v));
             if (value != "required" && value != "open") {
                 return "must be required or open";
             }
             c.auth_open = value == "open";
             return std::nullopt;
         }},
        {"ADMIN_EMAILS",
         "",
         "Comma-separated emails of the administrator accounts (empty: the first account to "
         "sign up is the administrator)",
         false,
         [](std::string_view v, Config& c) -> std::optional<std::string> {
             c.admin_emails.clear();
             for (const auto& e : split_list(v, ',')) {
                 auto email = auth::normalize_email(e);
                 if (!email) {
                     return "must be email addresses, got \"" + e + "\"";
                 }
                 c.admin_emails.push_back(std::move(*email));
             }
             return std::nullopt;
         }},
        {"WORKERS",
         "0",
         "I/O threads, one event loop each (0: one per core)",
         false,
         integer(&Config::workers, 0, 256)},
        {"BLOCKING_THREADS",
         "4",
         "Threads for blocking work (SQLite, password hashing)",
         false,
         integer(&Config::blocking_threads, 1, 256)},
        {"DATABASE_URL",
         "",
         "sqlite://PATH or postgresql://… (default: sqlite://DATA_DIR/parley.db)",
         true,
         [](std::string_view v, Config& c) -> std::optional<std::string> {
             const auto value = trim(v);
             if (!value.empty()) {
                 auto parsed = store::parse_database_url(value);
                 if (!parsed) {
                     return parsed.error().message;
                 }
             }
             c.database_url = std::string(value);
             return std::nullopt;
         }},
        {"DATABASE_POOL_SIZE",
         "10",
         "PostgreSQL connections per process, at most (operations beyond them queue)",
         false,
         integer(&Config::database_pool_size, 1, 1000)},
        {"MIGRATE_ON_START",
         "true",
         "Apply pending schema migrations at start-up",
         false,
         boolean(&Config::migrate_on_start)},
        {"REDIS_URL",
         "",
         "redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]: rate limits and conversation events shared "
         "by every instance (scale-out)",
         true,
         [](std::string_view v, Config& c) -> std::optional<std::string> {
             const auto value = trim(v);
             if (!value.empty()) {
                 auto parsed = redis::parse_url(value);
                 if (!parsed) {
                     return parsed.error().message;
                 }
             }
             c.redis_url = std::string(value);
             return std::nullopt;
         }},
        {"JWT_SECRET",
         "",
         "HS256 signing secret, at least 32 bytes (development: generated into DATA_DIR if unset)",
         true,
         [](std::string_view v, Config& c) -> std::optional<std::string> {
             if (!v.empty() && v.size() < 32) {
                 return "must be at least 32 bytes long";
             }
             c.jwt_secret = std::string(v);
             return std::nullopt;
         }},
        {"JWT_ACCESS_TOKEN_EXPIRE_MINUTES",
         "30",
         "Access token lifetime in minutes",
         false,
         integer(&Config::jwt_access_minutes, 1, 24 * 60)},
        {"JWT_REFRESH_TOKEN_EXPIRE_DAYS",
         "7",
         "Refresh token lifetime in days",
         false,
         integer(&Config::jwt_refresh_days, 1, 365)},
        {"GROQ_API_KEY", "", "Groq API key (OpenAI-compatible)", true, text(&Config::groq_api_key)},
        {"GOOGLE_AI_API_KEY",
         "",
         "Google AI (Gemini) API key",
         true,
         text(&Config::google_ai_api_key)},
        {"OPENAI_API_KEY", "", "OpenAI API key", true, text(&Config::openai_api_key)},
        {"OPENAI_BASE_URL",
         "",
         "Base URL of an OpenAI-compatible server (vLLM, Ollama, llama.cpp)",
         false,
         url_with_scheme(&Config::openai_base_url, {"http://", "https://"})},
        {"ANTHROPIC_API_KEY", "", "Anthropic API key", true, text(&Config::anthropic_api_key)},
        {"GROQ_BASE_URL",
         "https://api.groq.com/openai/v1",
         "Groq's OpenAI-compatible base URL",
         false,
         url_with_scheme(&Config::groq_base_url, {"http://", "https://"})},
        {"GEMINI_BASE_URL",
         "https://generativelanguage.googleapis.com",
         "Gemini API base URL",
         false,
         url_with_scheme(&Config::gemini_base_url, {"http://", "https://"})},
        {"ANTHROPIC_BASE_URL",
         "https://api.anthropic.com",
         "Anthropic API base URL",
         false,
         url_with_scheme(&Config::anthropic_base_url, {"http://", "https://"})},
        {"DEFAULT_MODEL",
         "",
         "Primary model (default: llama-3.1-8b-instant with a Groq key, else parley-mock)",
         false,
         text(&Config::default_model)},
        {"FALLBACK_MODEL",
         "gemini-1.5-flash",
         "Model tried when the primary fails before streaming (empty: none)",
         false,
         text(&Config::fallback_model)},
        {"MODEL_CATALOG",
         "",
         "Path of a JSON model catalog replacing the built-in one",
         false,
         text(&Config::model_catalog)},
        {"MOCK_TOKEN_DELAY_MS",
         "15",
         "Milliseconds between the mock model's tokens",
         false,
         [](std::string_view v, Config& c) -> std::optional<std::string> {
             const auto n = parse_int(v);
             if (!n || *n < 0 || *n > 10'000) {
                 return "must be an integer from 0 to 10000";
             }
             c.mock_token_delay = std::chrono::milliseconds(*n);
             return std::nullopt;
         }},
        {"LLM_CONNECT_TIMEOUT_S",
         "10",
         "Seconds to connect to a provider",
         false,
         seconds(&Config::llm_connect_timeout, 0.1, 600)},
        {"LLM_FIRST_TOKEN_TIMEOUT_S",
         "30",
         "Seconds to wait for a model's first token before falling back",
         false,
         seconds(&Config::llm_first_token_timeout, 0.1, 3600)},
        {"LLM_TOKEN_TIMEOUT_S",
         "30",
         "Seconds a model may pause between tokens",
         false,
         seconds(&Config::llm_token_timeout, 0.1, 3600)},
        {"LLM_TOTAL_TIMEOUT_S",
         "300",
         "Seconds an answer may take in all",
         false,
         seconds(&Config::llm_total_timeout, 1, 86400)},
        {"LLM_MAX_RETRIES",
         "2",
         "Retries per model on 429, 5xx and connection errors",
         false,
         integer(&Config::llm_max_retries, 0, 10)},
        {"MAX_MESSAGE_CHARS",
         "100000",
         "Longest message content, in characters",
         false,
         integer(&Config::max_message_chars, 1, 10'000'000)},
        {"KNOWLEDGE_DIR",
         "",
         "Folder of Markdown files (one topic per file) added to fetch_internal_knowledge's "
         "built-in topics",
         false,
         text(&Config::knowledge_dir)},
        {"TOOL_TIMEOUT_S",
         "10",
         "Seconds a tool may run before the model is given an error result instead",
         false,
         seconds(&Config::tool_timeout, 0.1, 600)},
        {"TOOL_MAX_ROUNDS",
         "4",
         "Most tool-calling rounds in one answer; calls past it are not run and the answer ends "
         "there (metadata.tool_rounds_exhausted)",
         false,
         integer(&Config::tool_max_rounds, 0, 32)},
        {"STREAM_RESUME_WINDOW_S",
         "30",
         "Seconds a resumable answer goes on after its last reader left, and its events are kept "
         "after it ended (GET …/messages/{message_id}/stream)",
         false,
         seconds(&Config::stream_resume_window, 0.1, 3600)},
        {"ALLOWED_ORIGINS",
         "",
         "Comma-separated browser origins allowed by CORS (exact match; empty: none)",
         false,
         [](std::string_view v, Config& c) -> std::optional<std::string> {
             c.allowed_origins = split_list(v, ',');
             for (const auto& o : c.allowed_origins) {
                 if (o == "*") {
                     return "must list origins explicitly; * is not accepted";
                 }
                 if (!o.starts_with("http://") && !o.starts_with("https://")) {
                     return "must be origins such as https://app.example.com, got \"" + o + "\"";
                 }
             }
             return std::nullopt;
         }},
        {"TRUSTED_PROXIES",
         "",
         "Comma-separated IP addresses of load balancers whose X-Forwarded-For names the client "
         "(for per-IP limits and logs; empty: none)",
         false,
         [](std::string_view v, Config& c) -> std::optional<std::string> {
             c.trusted_proxies = split_list(v, ',');
             for (const auto& ip : c.trusted_proxies) {
                 const bool address_chars = std::all_of(ip.begin(), ip.end(), [](char ch) {
                     return std::isxdigit(static_cast<unsigned char>(ch)) != 0 || ch == '.' ||
                            ch == ':';
                 });
                 if (!address_chars) {
                     return "must be IP addresses such as 127.0.0.1, got \"" + ip + "\"";
                 }
             }
             return std::nullopt;
         }},
        {"RATE_LIMIT_STANDARD",
         "60",
         "Requests per minute per user on ordinary routes",
         false,
         integer(&Config::rate_limit_standard, 1, 1'000'000)},
        {"RATE_LIMIT_AI",
         "10",
         "Requests per minute per user on routes that call a model",
         false,
         integer(&Config::rate_limit_ai, 1, 1'000'000)},
        {"RATE_LIMIT_AUTH",
         "20",
         "Requests per minute per client IP on register, login and refresh",
         false,
         integer(&Config::rate_limit_auth, 1, 1'000'000)},
        {"ACCOUNT_CACHE_TTL_MS",
         "2000",
         "How long an instance keeps an account's role, disabled state and rate limits before "
         "reading them again: the longest a disabled account's tokens keep working on another "
         "instance (0: read on every request)",
         false,
         [](std::string_view v, Config& c) -> std::optional<std::string> {
             const auto n = parse_int(v);
             if (!n || *n < 0 || *n > 600'000) {
                 return "must be an integer from 0 to 600000";
             }
             c.account_cache_ttl = std::chrono::milliseconds(*n);
             return std::nullopt;
         }},
        {"MAX_HEADER_BYTES",
         "16384",
         "Largest request header block (larger: 431)",
         false,
         integer(&Config::max_header_bytes, 1024, 1024 * 1024)},
        {"MAX_HEADER_FIELDS",
         "100",
         "Most header fields in a request (more: 431)",
         false,
         integer(&Config::max_header_fields, 1, 10'000)},
        {"MAX_BODY_BYTES",
         "1048576",
         "Largest request body (larger: 413)",
         false,
         integer(&Config::max_body_bytes, 1024, 64 * 1024 * 1024)},
        {"HEADER_TIMEOUT_S",
         "10",
         "Seconds a client has to send a request's headers",
         false,
         seconds(&Config::header_timeout, 0.1, 3600)},
        {"BODY_TIMEOUT_S",
         "30",
         "Seconds a client has to send a request's body, and to take each write of a response",
         false,
         seconds(&Config::body_timeout, 0.1, 3600)},
        {"IDLE_TIMEOUT_S",
         "75",
         "Seconds an idle keep-alive connection stays open",
         false,
         seconds(&Config::idle_timeout, 0.1, 3600)},
        {"JSON_MAX_DEPTH",
         "64",
         "Deepest JSON nesting accepted in a request body",
         false,
         integer(&Config::json_max_depth, 1, 1024)},
        {"MAX_CONNECTIONS",
         "10000",
         "Open connections per process (this machine allows ~20000 files)",
         false,
         integer(&Config::max_connections, 1, 1'000'000)},
        {"WS_MAX_MESSAGE_BYTES",
         "1048576",
         "Largest WebSocket message (or frame) from a client (larger: close 1009)",
         false,
         integer(&Config::ws_max_message_bytes, 1024, 64 * 1024 * 1024)},
        {"SHUTDOWN_TIMEOUT_S",
         "15",
         "Seconds in-flight requests get to finish after SIGTERM",
         false,
         seconds(&Config::shutdown_timeout, 0, 3600)},
        {"HSTS_MAX_AGE",
         "0",
         "Strict-Transport-Security max-age when served behind TLS (0: off)",
         false,
         integer(&Config::hsts_max_age, 0, 2 * 365 * 24 * 3600)},
        {"LOG_LEVEL",
         "info",
         "debug, info, warn or error",
         false,
         [](std::string_view v, Config& c) -> std::optional<std::string> {
             if (!log::parse_level(to_lower(trim(v)), c.log_level)) {
                 return "must be debug, info, warn or error";
             }
             return std::nullopt;
         }},
        {"ACCESS_LOG",
         "true",
         "One JSON log line per request",
         false,
         boolean(&Config::access_log)},
    };
}

std::string unquote(std::string_view v) {
    v = trim(v);
    if (v.size() >= 2 && (v.front() == '"' || v.front() == '\'') && v.back() == v.front()) {
        return std::string(v.substr(1, v.size() - 2));
    }
    // An unquoted value ends at an inline comment.
    const auto hash = v.find(" #");
    return std::string(trim(v.substr(0, hash)));
}

std::string redact_url(const std::string& url) {
    // scheme://user:password@host → scheme://user:****@host
    const auto scheme = url.find("://");
    const auto at = url.find('@');
    if (scheme == std::string::npos || at == std::string::npos || at < scheme) {
        return url;
    }
    const auto colon = url.find(':', scheme + 3);
    if (colon == std::string::npos || colon > at) {
        return url;
    }
    return url.substr(0, colon + 1) + "****" + url.substr(at);
}

}  // namespace

const std::vector<Setting>& settings() {
    static const std::vector<Setting> table = make_settings();
    return table;
}

Result<Env> parse_env_file(std::string_view text) {
    Env out;
    int line_no = 0;
    while (!text.empty()) {
        ++line_no;
        const auto nl = text.find('\n');
        auto line = trim(text.substr(0, nl));
        text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
        if (line.empty() || line.front() == '#') {
            continue;
        }
        if (line.starts_with("export ")) {
            line = trim(line.substr(7));
        }
        const auto eq = line.find('=');
        if (eq == std::string_view::npos || trim(line.substr(0, eq)).empty()) {
            return make_error(
                ErrorType::invalid_request,
                "line " + std::to_string(line_no) + ": expected KEY=VALUE"
            );
        }
        out[std::string(trim(line.substr(0, eq)))] = unquote(line.substr(eq + 1));
    }
    return out;
}

Env effective_values(const Env& env_file, const Env& environment, const Env& flags) {
    Env out;
    for (const auto& s : settings()) {
        std::string value(s.default_value);
        for (const Env* layer : {&env_file, &environment, &flags}) {
            if (const auto it = layer->find(s.name); it != layer->end()) {
                value = it->second;
            }
        }
        out[std::string(s.name)] = value;
    }
    return out;
}

Result<Config> load_config(const Env& env_file, const Env& environment, const Env& flags) {
    const Env values = effective_values(env_file, environment, flags);
    Config config;
    for (const auto& s : settings()) {
        const auto& value = values.at(std::string(s.name));
        if (auto problem = s.apply(value, config)) {
            std::string shown = s.secret ? "(redacted)" : "\"" + value + "\"";
            return make_error(
                ErrorType::invalid_request, std::string(s.name) + " " + *problem + ", got " + shown
            );
        }
    }
    if (config.database_url.empty()) {
        std::string dir = config.data_dir;
        while (dir.size() > 1 && dir.back() == '/') {
            dir.pop_back();
        }
        config.database_url = "sqlite://" + (dir.empty() ? std::string(".") : dir) + "/parley.db";
    }
    if (config.environment == "production" && config.jwt_secret.empty()) {
        return make_error(
            ErrorType::invalid_request,
            "JWT_SECRET is required when ENVIRONMENT=production (at least 32 bytes)"
        );
    }
    if (config.environment == "production" && config.auth_open) {
        return make_error(
            ErrorType::invalid_request,
            "AUTH_MODE=open is refused when ENVIRONMENT=production: it lets anyone who can reach "
            "the server act as the local user"
        );
    }
    return config;
}

std::vector<std::pair<std::string, std::string>> describe(const Env& effective) {
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& s : settings()) {
        const auto it = effective.find(s.name);
        std::string value = it == effective.end() ? std::string{} : it->second;
        if (s.secret && !value.empty()) {
            value = value.find("://") != std::string::npos ? redact_url(value) : "****";
        }
        out.emplace_back(std::string(s.name), std::move(value));
    }
    return out;
}

}  // namespace parley::app
