/* security_none.c - a build without message security (MC_WITH_SECURITY
 * off: no xmlsec1): security_mode = message is refused with a clear error. */
#include "internal.h"
#include "binding/options.h"

int mc__security_filter_new(const mc__values *v, struct mc__state *state, mc__envelope_filter **out)
{
    *out = NULL;
    if (v->security_mode != MC__SECURITY_MESSAGE)
        return 0;
    return mc__error_set(MC_EINVAL, "security_mode = message: this build of mailchan has no message security "
                                    "(built with MC_WITH_SECURITY=OFF)");
}
