// Builds the LLM layer from the configuration: the catalog (built in or MODEL_CATALOG), one
// provider per configured key or base URL (the mock always), and the router with the default and
// fallback models and the timeouts.
#pragma once

#include <memory>

#include "app/config.hpp"
#include "common/error.hpp"
#include "llm/catalog.hpp"
#include "llm/router.hpp"
#include "net/http_client.hpp"

namespace parley::app {

struct LlmLayer {
    std::unique_ptr<llm::Catalog> catalog;
    std::unique_ptr<net::HttpClient> client;
    std::unique_ptr<llm::ModelRouter> router;
};

// Errors: invalid_request naming the variable (an unreadable MODEL_CATALOG, a DEFAULT_MODEL that
// is unknown or whose provider is not configured).
Result<LlmLayer> make_llm_layer(const Config& config);

}  // namespace parley::app
