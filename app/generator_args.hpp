// The generated-data options `meterd bench` and `meterd bench http` share.
#pragma once

#include "app/arg_reader.hpp"
#include "protocol/nem12_generator.hpp"

namespace meterd::app {

// Takes --nmis, --days or --interval into `gen`; false for any other argument.
inline bool read_generator_option(ArgReader& args, GeneratorOptions& gen) {
  if (args.is("--nmis"))
    gen.nmis = args.number<std::uint32_t>(1);
  else if (args.is("--days"))
    gen.days = args.number<std::uint32_t>(1);
  else if (args.is("--interval"))
    gen.interval_minutes = args.number<std::uint32_t>(5, 30);
  else
    return false;
  return true;
}

}  // namespace meterd::app
