#include "app/app.hpp"

#include <system_error>
#include <thread>

#include "app/llm_setup.hpp"
#include "app/routes.hpp"
#include "app/secrets.hpp"
#include "async/blocking_pool.hpp"
#include "auth/gate.hpp"
#include "auth/service.hpp"
#include "events/bus.hpp"
#include "http/pipeline.hpp"
#include "http/server.hpp"
#include "ratelimit/memory_limiter.hpp"
#include "store/store.hpp"
#include "system/health.hpp"

namespace parley::app {

namespace {

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
    auth::AuthService auth_service(**store, pool, auth_options);
    const auto limiter = ratelimit::make_memory_limiter();
    auth::AuthGate gate(
        auth_service,
        *limiter,
        auth::RateLimits{
            config_.rate_limit_standard, config_.rate_limit_ai, config_.rate_limit_auth}
    );

    // Conversation events for GET …/events subscribers (in memory: one instance).
    const auto bus = events::make_memory_bus();
    metrics.add_gauge("parley_event_subscribers", "Open conversation event subscriptions.", [&bus] {
        return static_cast<double>(bus->subscribers());
    });
    conversations::ConversationService conversation_service(**store, *llm_layer->router, bus.get());
    messages::MessageOptions message_options;
    message_options.max_content_chars = config_.max_message_chars;
    messages::MessageService message_service(
        **store, conversation_service, *llm_layer->router, message_options
    );

    Services services{
        &health,
        &metrics,
        &auth_service,
        &conversation_service,
        &message_service,
        llm_layer->router.get(),
        store->get(),
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
        config_.max_body_bytes,
        config_.header_timeout,
        config_.body_timeout,
        config_.idle_timeout,
        config_.json_max_depth,
        config_.max_connections,
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
    // Pooled upstream connections belong to the server's io_contexts: close them while those live.
    llm_layer->client->close_idle();
    pool.stop();
    log::info("stopped");
    return 0;
}

}  // namespace parley::app
