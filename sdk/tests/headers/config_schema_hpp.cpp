// config_schema.hpp alone.
#include "vitals/config_schema.hpp"

int main() {
  const vitals_config_field_t fields[] = {{"n", VITALS_CONFIG_INT, 0, "1", "a number", nullptr, nullptr, nullptr, {}}};
  std::vector<vitals::ConfigError> errors;
  std::string json = vitals::apply_config_schema(toml::parse("n = 2"), fields, {}, errors);
  return errors.empty() && json == "{\"n\":2}" ? 0 : 1;
}
