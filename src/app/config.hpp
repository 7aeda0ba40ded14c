// Parley's configuration: one table of settings (name, default, description, secret or not), loaded
// from defaults, then a .env file, then the process environment, then command-line flags (each
// later layer wins). Invalid values are reported with the variable's name. Pure: no I/O here.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"
#include "common/log.hpp"

namespace parley::app {

struct Config {
    // server
    std::string host;
    std::uint16_t port = 8000;
    std::string data_dir;
    std::size_t workers = 0;           // I/O threads; 0 = one per core
    std::size_t blocking_threads = 4;  // SQLite and password hashing
    std::string environment;           // "development" or "production"
    bool auth_open = false;            // AUTH_MODE=open: no credential means the local user
    // ADMIN_EMAILS, normalised; empty: the first account is the admin
    std::vector<std::string> admin_emails;
    // storage
    std::string database_url;
    std::size_t database_pool_size = 10;  // PostgreSQL connections per process
    bool migrate_on_start = true;
    std::string redis_url;
    // auth
    std::string jwt_secret;
    int jwt_access_minutes = 30;
    int jwt_refresh_days = 7;
    // providers
    std::string groq_api_key;
    std::string google_ai_api_key;
    std::string openai_api_key;
    std::string openai_base_url;
    std::string anthropic_api_key;
    std::string groq_base_url;
    std::string gemini_base_url;
    std::string anthropic_base_url;
    std::string default_model;
    std::string fallback_model;
    std::string model_catalog;  // path of a catalog file replacing the built-in one
    std::chrono::milliseconds mock_token_delay{15};
    std::chrono::milliseconds llm_connect_timeout{10'000};
    std::chrono::milliseconds llm_first_token_timeout{30'000};
    std::chrono::milliseconds llm_token_timeout{30'000};
    std::chrono::milliseconds llm_total_timeout{300'000};
    int llm_max_retries = 2;
    std::size_t max_message_chars = 100'000;
    // Tools (issue 12)
    std::string knowledge_dir;  // Markdown files added to the built-in knowledge base
    std::chrono::milliseconds tool_timeout{10'000};
    int tool_max_rounds = 4;
    // Resumable streams (issue 17)
    std::chrono::milliseconds stream_resume_window{30'000};
    // HTTP
    std::vector<std::string> allowed_origins;
    std::vector<std::string> trusted_proxies;
    int rate_limit_standard = 60;
    int rate_limit_ai = 10;
    int rate_limit_auth = 20;
    std::chrono::milliseconds account_cache_ttl{2'000};  // ACCOUNT_CACHE_TTL_MS
    std::size_t max_header_bytes = 16 * 1024;
    std::size_t max_header_fields = 100;
    std::size_t max_body_bytes = 1024 * 1024;
    std::chrono::milliseconds header_timeout{10'000};
    std::chrono::milliseconds body_timeout{30'000};
    std::chrono::milliseconds idle_timeout{75'000};
    std::size_t json_max_depth = 64;
    std::size_t max_connections = 10'000;
    std::size_t ws_max_message_bytes = 1024 * 1024;
    std::chrono::milliseconds shutdown_timeout{15'000};
    int hsts_max_age = 0;
    // logging
    log::Level log_level = log::Level::info;
    bool access_log = true;
};

using Env = std::map<std::string, std::string, std::less<>>;

// One configurable setting.
struct Setting {
    std::string_view name;           // environment variable
    std::string_view default_value;  // as text; "" when there is none
    std::string_view description;
    bool secret = false;  // redacted in logs
    // Parses and stores the value; returns an error message (without the name) on bad input.
    std::function<std::optional<std::string>(std::string_view value, Config& config)> apply;
};

// Every setting Parley reads, in documentation order.
const std::vector<Setting>& settings();

// Parses a .env file: KEY=VALUE lines, `#` comments, blank lines, an optional `export ` prefix,
// values optionally in single or double quotes. Errors: invalid_request naming the line.
Result<Env> parse_env_file(std::string_view text);

// Builds the configuration from the layers, later ones winning: the .env file, the process
// environment, the command-line flags (given as the variables they set). Only names in settings()
// are read. Errors: invalid_request whose message names the variable and says what it expects.
Result<Config> load_config(const Env& env_file, const Env& environment, const Env& flags);

// The effective configuration as name → value, secrets (and passwords inside URLs) redacted.
std::vector<std::pair<std::string, std::string>> describe(const Env& effective);

// The effective name → value map load_config used (defaults filled in), for describe().
Env effective_values(const Env& env_file, const Env& environment, const Env& flags);

}  // namespace parley::app
