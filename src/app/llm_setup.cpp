#include "app/llm_setup.hpp"

#include <fstream>
#include <sstream>

#include "common/log.hpp"

namespace parley::app {

namespace {

Result<std::unique_ptr<llm::Catalog>> load_catalog(const Config& config) {
    if (config.model_catalog.empty()) {
        return std::make_unique<llm::Catalog>(llm::Catalog::builtin());
    }
    std::ifstream in(config.model_catalog);
    if (!in) {
        return make_error(
            ErrorType::invalid_request, "MODEL_CATALOG: cannot read " + config.model_catalog
        );
    }
    std::stringstream text;
    text << in.rdbuf();
    auto parsed = llm::Catalog::parse(text.str());
    if (!parsed) {
        return make_error(
            ErrorType::invalid_request,
            "MODEL_CATALOG " + config.model_catalog + ": " + parsed.error().message
        );
    }
    return std::make_unique<llm::Catalog>(std::move(*parsed));
}

}  // namespace

Result<LlmLayer> make_llm_layer(const Config& config) {
    LlmLayer layer;
    auto catalog = load_catalog(config);
    if (!catalog) {
        return catalog.error();
    }
    layer.catalog = std::move(*catalog);
    net::ClientOptions client_options;
    client_options.connect_timeout = config.llm_connect_timeout;
    client_options.read_timeout = config.llm_total_timeout;
    layer.client = std::make_unique<net::HttpClient>(client_options);

    std::map<std::string, std::unique_ptr<llm::Provider>, std::less<>> providers;
    if (!config.groq_api_key.empty()) {
        providers.emplace(
            "groq",
            llm::make_openai_provider(
                {"groq", config.groq_base_url, config.groq_api_key}, *layer.client
            )
        );
    }
    if (!config.openai_api_key.empty() || !config.openai_base_url.empty()) {
        const std::string base =
            config.openai_base_url.empty() ? "https://api.openai.com/v1" : config.openai_base_url;
        providers.emplace(
            "openai",
            llm::make_openai_provider({"openai", base, config.openai_api_key}, *layer.client)
        );
    }
    if (!config.google_ai_api_key.empty()) {
        providers.emplace(
            "google",
            llm::make_gemini_provider(
                {"google", config.gemini_base_url, config.google_ai_api_key}, *layer.client
            )
        );
    }
    if (!config.anthropic_api_key.empty()) {
        providers.emplace(
            "anthropic",
            llm::make_anthropic_provider(
                {"anthropic", config.anthropic_base_url, config.anthropic_api_key}, *layer.client
            )
        );
    }
    providers.emplace("mock", llm::make_mock_provider({config.mock_token_delay}));
    const bool any_real = providers.size() > 1;

    llm::RouterOptions options;
    options.default_model = config.default_model;
    if (options.default_model.empty()) {
        options.default_model =
            config.groq_api_key.empty() ? "parley-mock" : "llama-3.1-8b-instant";
    }
    options.fallback_model = config.fallback_model;
    options.first_token_timeout = config.llm_first_token_timeout;
    options.between_tokens_timeout = config.llm_token_timeout;
    options.total_timeout = config.llm_total_timeout;
    options.max_retries = config.llm_max_retries;
    layer.router = std::make_unique<llm::ModelRouter>(
        *layer.catalog,
        std::move(providers),
        std::map<std::string, std::string, std::less<>>{
            {"groq", "GROQ_API_KEY"},
            {"google", "GOOGLE_AI_API_KEY"},
            {"openai", "OPENAI_API_KEY (or OPENAI_BASE_URL for a local server)"},
            {"anthropic", "ANTHROPIC_API_KEY"},
        },
        options
    );
    auto default_model = layer.router->resolve("");
    if (!default_model) {
        return make_error(
            ErrorType::invalid_request, "DEFAULT_MODEL: " + default_model.error().message
        );
    }
    if (!any_real) {
        log::warn(
            "no provider API key is configured: answering with the built-in mock model",
            {{"default_model", (*default_model)->id}}
        );
    }
    const auto* fallback = layer.catalog->find(options.fallback_model);
    if (!options.fallback_model.empty() &&
        (fallback == nullptr || !layer.router->available(*fallback))) {
        log::info(
            "fallback model unavailable; no fallback", {{"fallback_model", options.fallback_model}}
        );
    }
    log::info("models", {{"default", (*default_model)->id}, {"fallback", options.fallback_model}});
    return layer;
}

}  // namespace parley::app
