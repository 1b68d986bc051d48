// json_reader.hpp alone.
#include "vitals/json_reader.hpp"

int main() { return vitals::json::Value::parse(R"({"a":[1,"x"]})")["a"][0].integer() == 1 ? 0 : 1; }
