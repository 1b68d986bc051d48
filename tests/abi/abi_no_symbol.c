/* A loadable shared object that exports no `vitals_plugin`, like a stray
 * library dropped into the plugin directory: the loader must refuse it. */
#include "vitals/plugin.h"

VITALS_EXPORT int vitals_not_a_plugin(void);

VITALS_EXPORT int vitals_not_a_plugin(void) { return VITALS_ABI_MAJOR; }
