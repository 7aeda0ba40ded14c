#include "app/app.hpp"

#include <system_error>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include "admin/service.hpp"
#include "app/llm_setup.hpp"
#include "app/routes.hpp"
#include "app/secrets.hpp"
#include "async/blocking_pool.hpp"
#include "auth/gate.hpp"
#include "auth/service.hpp"
#include "events/answer_streams.hpp"
#include "events/bus.hpp"
#include "events/redis_bus.hpp"
#include "events/session_locks.hpp"
#include "http/pipeline.hpp"
#include "http/server.hpp"
#include "ratelimit/memory_limiter.hpp"
#include "ratelimit/redis_limiter.hpp"
#include "redis/client.hpp"
#include "store/store.hpp"
#include "system/health.hpp"
#include "tools/knowledge_base.hpp"
#include "tools/registry.hpp"

namespace parley::app {

namespace {

// The built-in user of AUTH_MODE=open: fixed, so that restarts and every instance agree.
constexpr std::string_view kLocalUserId = "00000000-0000-7000-8000-000000000001";
constexpr std::string_view kLocalUserEmail = "local@parley.localhost";

boost::asio::awaitable<void> create_local_user(
    auth::AuthService* auth, std::optional<Result<store::User>>* out
) {
    *out = co_await auth->ensure_passwordless_user(
        std::string(kLocalUserId), std::string(kLocalUserEmail)
    );
}

boost::asio::awaitable<void> run_establish_admins(
    admin::AdminService* admin, std::optional<Result<void>>* out
) {
    *out = co_await admin->establish_admins();
}

// ADMIN_EMAILS, or the first account: who administers this server, logged at start.
bool establish_admins(admin::AdminService& admin) {
    boost::asio::io_context ctx(1);
    std::optional<Result<void>> done;
    boost::asio::co_spawn(ctx, run_establish_admins(&admin, &done), boost::asio::detached);
    ctx.run();
    if (!done || !*done) {
        log::error(
            "cannot establish the administrators",
            {{"detail", done ? done->error().detail : std::string("no result")}}
        );
        return false;
    }
    return true;
}

// AUTH_MODE=open: makes sure the local user exists and lets credential-free requests act as it.
bool open_auth_mode(const Config& config, auth::AuthService& auth, auth::AuthGate& gate) {
    boost::asio::io_context ctx(1);
    std::optional<Result<store::User>> user;
    boost::asio::co_spawn(ctx, create_local_user(&auth, &user), boost::asio::detached);
    ctx.run();
    if (!user || !*user) {
        log::error(
            "cannot create the local user of AUTH_MODE=open",
            {{"detail", user ? user->error().detail : std::string("no result")}}
        );
        return false;
    }
    gate.allow_anonymous_as(Principal{(*user)->id, {}, kAllScopes, true});
    const bool loopback = config.host == "127.0.0.1" || config.host == "::1" ||
                          config.host == "localhost" || config.host.starts_with("127.");
    if (loopback) {
        log::warn(
            "AUTH_MODE=open: requests without credentials act as the local user (single-user mode)",
            {{"user_id", (*user)->id}}
        );
    } else {
        log::warn(
            "AUTH_MODE=open ON A NON-LOOPBACK ADDRESS: ANYONE WHO CAN REACH THIS SERVER ACTS AS "
            "THE "
            "LOCAL USER, WITH ALL ITS CONVERSATIONS. Use AUTH_MODE=required or HOST=127.0.0.1",
            {{"host", config.host}, {"user_id", (*user)->id}}
        );
    }
    return true;
}

// One line with every setting's effective value, secrets redacted.
void log_configuration(const Env& effective) {
    const auto described = describe(effective);
    std::vector<log::Field> fields;
    fields.reserve(described.size());
    for (const auto& [name, value] : described) {
        fields.emplace_back(name, value);
    }
    log::write(log::Level::info, "configuration", fields);
}

// With REDIS_URL, the client that shares rate limits and events with the other instances, and its
// /metrics; without, null. Waits a moment for a first connection so that the first requests are
// counted, but serves without one: checks fail open and events stay local until Redis answers.
Result<std::unique_ptr<redis::Client>> connect_redis(const Config& config, http::Metrics& metrics) {
    if (config.redis_url.empty()) {
        return std::unique_ptr<redis::Client>();
    }
    auto endpoint = redis::parse_url(config.redis_url);
    if (!endpoint) {
        return endpoint.error();
    }
    redis::ClientOptions options;
    options.endpoint = std::move(*endpoint);
    auto client = std::make_unique<redis::Client>(std::move(options));
    if (!client->wait_connected(std::chrono::seconds(2))) {
        log::warn(
            "redis is not answering yet: rate limits fail open and events stay on this instance "
            "until it does",
            {{"redis", client->options().endpoint.describe()}}
        );
    }
    metrics.add_gauge(
        "parley_redis_up",
        "1 while the Redis connection for commands (rate limits, publishing events) is up.",
        [&c = *client] { return c.connected() ? 1.0 : 0.0; }
    );
    metrics.add_gauge(
        "parley_redis_subscriber_up",
        "1 while the Redis connection that receives other instances' events is subscribed.",
        [&c = *client] { return c.listening() ? 1.0 : 0.0; }
    );
    return client;
}

Result<std::unique_ptr<store::Store>> open_configured_store(
    const Config& config, async::BlockingPool& pool
) {
    auto url = store::parse_database_url(config.database_url);
    if (!url) {
        return url.error();
    }
    return store::open_store(*url, pool, store::StoreOptions{config.database_pool_size});
}

}  // namespace

App::App(Config config, Env effective)
    : config_(std::move(config)),
      effective_(std::move(effective)) {}

int App::migrate() {
    async::BlockingPool pool(1);
    auto store = open_configured_store(config_, pool);
    if (!store) {
        log::error(
            "cannot open the database",
            {{"error", store.error().message}, {"detail", store.error().detail}}
        );
        return 1;
    }
    auto applied = (*store)->migrate();
    if (!applied) {
        log::error("migration failed", {{"detail", applied.error().detail}});
        return 1;
    }
    log::info("migrations up to date", {{"applied_now", applied->size()}});
    return 0;
}

int App::serve() {
    log_configuration(effective_);
    if (config_.jwt_secret.empty()) {
        auto secret = load_or_create_jwt_secret(config_.data_dir);
        if (!secret) {
            log::error("cannot prepare a JWT secret", {{"error", secret.error().message}});
            return 1;
        }
        config_.jwt_secret = std::move(*secret);
        log::warn(
            "JWT_SECRET is not set: using a generated development secret kept in the data "
            "directory; "
            "set JWT_SECRET in production",
            {{"data_dir", config_.data_dir}}
        );
    }

    async::BlockingPool pool(config_.blocking_threads);
    auto store = open_configured_store(config_, pool);
    if (!store) {
        log::error(
            "cannot open the database",
            {{"error", store.error().message}, {"detail", store.error().detail}}
        );
        return 1;
    }
    if (config_.migrate_on_start) {
        auto applied = (*store)->migrate();
        if (!applied) {
            log::error("migration failed", {{"detail", applied.error().detail}});
            return 1;
        }
    }

    // The model layer: validates DEFAULT_MODEL and says at start-up which models will answer.
    auto llm_layer = make_llm_layer(config_);
    if (!llm_layer) {
        log::error("invalid model configuration", {{"error", llm_layer.error().message}});
        return 2;
    }

    http::Metrics metrics;
    system::HealthMonitor health([&s = **store] { return s.ping(); });
    metrics.add_gauge("parley_uptime_seconds", "Seconds since the process started.", [&health] {
        return health.uptime_s();
    });
    auth::AuthOptions auth_options;
    auth_options.jwt.secret = config_.jwt_secret;
    auth_options.jwt.lifetime = std::chrono::minutes(config_.jwt_access_minutes);
    auth_options.refresh_lifetime = std::chrono::hours(24 * config_.jwt_refresh_days);
    auth_options.admin_emails = config_.admin_emails;
    // Admin and audit: the gate's view of accounts (disabled, role, own limits) and the log of
    // security events, written by a thread of its own.
    store::AdminStore& admin_db = store::admin_store(**store);
    auth::AccessCache access_cache(**store, config_.account_cache_ttl);
    auth::AuditLog audit_log(admin_db);
    auth::AuthService auth_service(
        **store, pool, auth_options, system_now, {&admin_db, &access_cache, &audit_log}
    );
    admin::AdminService admin_service(
        **store, admin_db, access_cache, audit_log, config_.admin_emails
    );

    // Scale-out: with REDIS_URL, every instance counts against the same limits and sees the same
    // conversation events; without, both stay in this process.
    auto redis_client = connect_redis(config_, metrics);
    if (!redis_client) {
        log::error("invalid REDIS_URL", {{"error", redis_client.error().message}});
        return 2;
    }
    std::unique_ptr<ratelimit::Limiter> limiter;
    std::unique_ptr<events::EventBus> bus;
    std::unique_ptr<events::SessionLocks> session_locks;
    if (*redis_client) {
        redis::Client& redis = **redis_client;
        session_locks = events::make_redis_session_locks(redis);
        metrics.describe_counter(
            "parley_ratelimit_redis_failures_total",
            "Rate-limit checks that Redis did not answer, allowed without counting (fail open)."
        );
        metrics.describe_counter(
            "parley_events_redis_failures_total",
            "Conversation events not published to Redis (delivered on this instance only), and "
            "unreadable ones received from it."
        );
        metrics.add_counter("parley_ratelimit_redis_failures_total", "", 0);
        metrics.add_counter("parley_events_redis_failures_total", "", 0);
        ratelimit::RedisLimiterOptions limiter_options;
        limiter_options.on_failure = [&metrics] {
            metrics.add_counter("parley_ratelimit_redis_failures_total", "", 1);
        };
        limiter = ratelimit::make_redis_limiter(redis, std::move(limiter_options));
        events::RedisBusOptions bus_options;
        bus_options.on_failure = [&metrics] {
            metrics.add_counter("parley_events_redis_failures_total", "", 1);
        };
        auto redis_bus = std::make_unique<events::RedisBus>(redis, std::move(bus_options));
        log::info(
            "rate limits and conversation events shared through redis",
            {{"redis", redis.options().endpoint.describe()},
             {"instance_id", redis_bus->instance_id()}}
        );
        bus = std::move(redis_bus);
    } else {
        limiter = ratelimit::make_memory_limiter();
        bus = events::make_memory_bus();
        log::info(
            "rate limits and conversation events kept in this process (set REDIS_URL to share "
            "them between instances)"
        );
    }
    auth::AuthGate gate(
        auth_service,
        *limiter,
        auth::RateLimits{
            config_.rate_limit_standard, config_.rate_limit_ai, config_.rate_limit_auth}
    );

    if (config_.auth_open && !open_auth_mode(config_, auth_service, gate)) {
        return 1;
    }
    // After open mode's local user exists, so that it counts as an account.
    if (!establish_admins(admin_service)) {
        return 1;
    }

    // Conversation events for GET …/events subscribers.
    metrics.add_gauge("parley_event_subscribers", "Open conversation event subscriptions.", [&bus] {
        return static_cast<double>(bus->subscribers());
    });
    // The tools a conversation may offer its model (seed sessions offer the seed's two).
    tools::BuiltinOptions tool_options;
    tool_options.store = store->get();
    if (!config_.knowledge_dir.empty()) {
        auto knowledge = tools::KnowledgeBase::load(config_.knowledge_dir);
        if (!knowledge) {
            log::error(
                "KNOWLEDGE_DIR cannot be read",
                {{"dir", config_.knowledge_dir}, {"detail", knowledge.error().message}}
            );
            return 2;
        }
        log::info(
            "knowledge base loaded",
            {{"dir", config_.knowledge_dir},
             {"topics", static_cast<std::int64_t>(knowledge->topics().size())},
             {"skipped", static_cast<std::int64_t>(knowledge->warnings().size())}}
        );
        tool_options.knowledge =
            std::make_shared<const tools::KnowledgeBase>(std::move(*knowledge));
    }
    const tools::Registry tool_registry = tools::make_builtin_registry(std::move(tool_options));
    conversations::ConversationService conversation_service(**store, *llm_layer->router, bus.get());
    conversation_service.set_tool_names(tool_registry.names());
    messages::MessageOptions message_options;
    message_options.max_content_chars = config_.max_message_chars;
    message_options.tool_timeout = config_.tool_timeout;
    message_options.tool_max_rounds = config_.tool_max_rounds;

    messages::MessageService message_service(
        **store,
        conversation_service,
        *llm_layer->router,
        message_options,
        system_now,
        &tool_registry
    );
    search::SearchService search_service(**store, conversation_service);
    messages::SessionService session_service(
        **store, conversation_service, auth_service, *llm_layer->router
    );
    if (session_locks) {
        // One socket per seed session across the instances too.
        session_service.set_locks(session_locks.get(), std::chrono::seconds(30));
    }

    usage::UsageRecorder usage_recorder(**store);
    // Titles and summaries are model calls too: billed in usage like the answers.
    message_service.set_usage_recorder(&usage_recorder);
    session_service.set_usage_recorder(&usage_recorder);
    compat::CompatService compat_service(*llm_layer->router, usage_recorder);
    // Budgets: every model call reserves its most possible cost first, in the database.
    metrics.describe_counter(
        "parley_budget_soft_limit_crossed_total",
        "Times an account's or API key's spend crossed its soft budget."
    );
    metrics.add_counter("parley_budget_soft_limit_crossed_total", "", 0);
    usage::Budgets budgets(store::budget_store(**store), &audit_log, [&metrics] {
        metrics.add_counter("parley_budget_soft_limit_crossed_total", "", 1);
    });
    message_service.set_budgets(&budgets);
    session_service.set_budgets(&budgets);
    compat_service.set_budgets(&budgets);

    messages::StreamHubOptions stream_options;
    stream_options.window = config_.stream_resume_window;
    // With Redis, an answer's events are shared so that another instance serves a resume.
    std::optional<events::AnswerStreams> shared_streams;
    if (*redis_client) {
        events::AnswerStreamsOptions shared_options;
        shared_options.window = config_.stream_resume_window;
        shared_streams.emplace(**redis_client, std::move(shared_options));
    }
    messages::StreamHub stream_hub(
        std::move(stream_options), shared_streams ? &*shared_streams : nullptr
    );

    Services services{
        &health,
        &metrics,
        &auth_service,
        &conversation_service,
        &message_service,
        &session_service,
        &search_service,
        llm_layer->router.get(),
        store->get(),
        &gate,
        &compat_service,
        &admin_service,
        &budgets,
        &stream_hub,
    };
    const http::Router router(make_routes(services));
    http::Pipeline pipeline(
        router,
        metrics,
        http::PipelineOptions{config_.allowed_origins, config_.hsts_max_age, config_.access_log},
        &gate
    );
    http::ServerOptions options;
    options.host = config_.host;
    options.port = config_.port;
    options.threads = config_.workers;
    options.limits = http::Limits{
        config_.max_header_bytes,
        config_.max_header_fields,
        config_.max_body_bytes,
        config_.header_timeout,
        config_.body_timeout,
        config_.idle_timeout,
        config_.json_max_depth,
        config_.max_connections,
        config_.ws_max_message_bytes,
    };
    options.shutdown_timeout = config_.shutdown_timeout;
    options.trusted_proxies = config_.trusted_proxies;
    http::Server server(options, pipeline, metrics);
    std::uint16_t port = 0;
    try {
        port = server.listen();
    } catch (const std::system_error& e) {
        log::error(
            "cannot listen", {{"host", config_.host}, {"port", config_.port}, {"error", e.what()}}
        );
        return 1;
    }
    log::info(
        "listening",
        {{"host", config_.host},
         {"port", port},
         {"workers", options.threads == 0 ? std::thread::hardware_concurrency() : options.threads},
         {"database", (*store)->backend()},
         {"version", PARLEY_VERSION}}
    );
    log::flush();
    server.run();
    // The Redis client's thread delivers events to subscribers on the server's io_contexts and
    // resumes coroutines there: stop it while those still exist.
    if (*redis_client) {
        (*redis_client)->close();
    }
    // Pooled upstream connections belong to the server's io_contexts: close them while those live.
    llm_layer->client->close_idle();
    // The audit events of failures (not waited for) still queued are written now.
    audit_log.close();
    pool.stop();
    log::info("stopped");
    return 0;
}

}  // namespace parley::app
