#include "store/admin_store.hpp"

#include <stdexcept>

#include "store/budget_store.hpp"
#include "store/store.hpp"

namespace parley::store {

AdminStore& admin_store(Store& store) {
    auto* admin = dynamic_cast<AdminStore*>(&store);
    if (admin == nullptr) {
        throw std::logic_error("this store does not implement AdminStore");
    }
    return *admin;
}

BudgetStore& budget_store(Store& store) {
    auto* budgets = dynamic_cast<BudgetStore*>(&store);
    if (budgets == nullptr) {
        throw std::logic_error("this store does not implement BudgetStore");
    }
    return *budgets;
}

}  // namespace parley::store
