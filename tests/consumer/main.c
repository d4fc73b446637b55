#include <mailchan.h>
#include <stdio.h>
#include <string.h>

int main(void)
{
    mc_address *a;
    if (mc_init() || mc_address_parse(&a, "net.mail://c#x@example.org"))
        return 1;
    printf("mailchan %s: %s\n", mc_version(), mc_address_uri(a));
    mc_address_free(a);
    return strcmp(mc_version(), "") == 0;
}
