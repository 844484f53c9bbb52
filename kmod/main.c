// SPDX-License-Identifier: GPL-2.0
/*
 * main.c - module entry points of ntm.ko (NTMobile data plane).
 *
 * Unload order matters: removing the link kind destroys every device, and
 * device teardown waits for packets still inside asynchronous crypto (they
 * hold device references).  Freed tunnels travel through RCU to ntm_wq, so
 * rcu_barrier() and draining the workqueue finish them before the text of
 * this module goes away; relay sessions are freed by call_rcu(), which
 * the same rcu_barrier() waits for.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <net/genetlink.h>
#include <net/rtnetlink.h>
#include "ntm.h"

struct workqueue_struct *ntm_wq;

static int __init ntm_init(void)
{
	int err;

	/* a cipher that fails its known answer is never used */
	err = ntm_chachapoly_selftest();
	if (err)
		return err;
	err = ntm_tunnel_cache_init();
	if (err)
		return err;
	err = ntm_relay_cache_init();
	if (err)
		goto err_tunnel_cache;
	ntm_wq = alloc_workqueue("ntm", WQ_UNBOUND | WQ_MEM_RECLAIM, 0);
	if (!ntm_wq) {
		err = -ENOMEM;
		goto err_cache;
	}
	err = ntm_device_init();
	if (err)
		goto err_wq;
	err = ntm_genl_init();
	if (err)
		goto err_device;
	ntm_crypto_warm();
	pr_info("NTMobile data plane loaded\n");
	return 0;

err_device:
	ntm_device_exit();
err_wq:
	destroy_workqueue(ntm_wq);
err_cache:
	ntm_relay_cache_exit();
err_tunnel_cache:
	ntm_tunnel_cache_exit();
	return err;
}

static void __exit ntm_exit(void)
{
	ntm_genl_exit();
	ntm_device_exit();
	rcu_barrier();
	destroy_workqueue(ntm_wq);
	ntm_relay_cache_exit();
	ntm_tunnel_cache_exit();
}

module_init(ntm_init);
module_exit(ntm_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("NTMobile data plane: encrypted UDP tunnels between virtual IPs");
MODULE_AUTHOR("The ntm developers");
MODULE_VERSION(NTM_VERSION);
MODULE_ALIAS_RTNL_LINK(NTM_LINK_KIND);
MODULE_ALIAS_GENL_FAMILY(NTM_GENL_NAME);
