// The route table: every route of the API on one screen (method, path template, access, handler).
#pragma once

#include <string>
#include <vector>

#include "admin/service.hpp"
#include "auth/gate.hpp"
#include "auth/service.hpp"
#include "compat/service.hpp"
#include "conversations/service.hpp"
#include "http/metrics.hpp"
#include "http/router.hpp"
#include "messages/resume.hpp"
#include "messages/service.hpp"
#include "messages/sessions.hpp"
#include "search/service.hpp"
#include "system/health.hpp"

namespace parley::app {

// What the handlers need. Pointers so that a test can build the table without a running app.
struct Services {
    system::HealthMonitor* health = nullptr;
    http::Metrics* metrics = nullptr;
    auth::AuthService* auth = nullptr;
    conversations::ConversationService* conversations = nullptr;
    messages::MessageService* messages = nullptr;
    messages::SessionService* sessions = nullptr;
    search::SearchService* search = nullptr;
    llm::ModelRouter* router = nullptr;
    store::Store* store = nullptr;
    auth::AuthGate* gate = nullptr;  // per-turn model limits on WebSocket sessions
    compat::CompatService* compat = nullptr;
    admin::AdminService* admin = nullptr;
    usage::Budgets* budgets = nullptr;
    messages::StreamHub* streams = nullptr;  // resumable answer streams
};

std::vector<http::Route> make_routes(Services& s);

// The route table without its handlers, as JSON:
// [{"method":"GET","path":"/health","access":"open"}, …] in table order. `parley routes` prints it;
// the access-control matrix test (tests/integration/access_control.test.mjs) is generated from it.
std::string route_table_json();

}  // namespace parley::app
