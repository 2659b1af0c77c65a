# oms: PGXS build. Declarative on purpose: everything a reader needs to know
# about the build is in the variables below; custom targets come after the
# PGXS include.

EXTENSION   = oms
EXTVERSION  = $(shell sed -n "s/^default_version = '\(.*\)'/\1/p" oms.control)

# One library per release, oms-<version>.so, named by module_pathname in
# oms.control: the C code's SPI queries follow its own version's schema, so
# a database still on the previous version must keep the previous library
# until ALTER EXTENSION oms UPDATE (README, Upgrading). control-check keeps
# the two names in step.
MODULE_big  = oms-$(EXTVERSION)
# objects in layer order, lowest first (README, Contributing, lists the layers)
OBJS        = src/spi.o src/balance_guard.o src/card_guard.o src/text_bounds.o src/zpl.o src/json.o src/gtin.o \
              src/catalog.o src/events.o src/customers.o src/pricing.o src/promotion_codes.o src/promotions.o src/ledger.o src/invoices.o src/lifecycle.o src/inventory.o src/stock_query.o \
              src/valuation.o src/stock_damage.o src/purchasing.o src/po_propose.o src/po_receive.o \
              src/route_promise.o src/route_plan.o src/route_search.o src/route_reserve.o src/route_explain.o \
              src/order_charges.o src/order_parse.o src/order_document.o src/order_substitute.o src/order_pricing.o src/order_steps.o src/order_place.o src/order_reroute.o src/order_release.o src/order_explain.o \
              src/payments.o src/stored_value.o src/payment_authorize.o \
              src/fulfillment.o src/shipment_create.o src/ship.o src/fulfillment_reject.o src/documents.o \
              src/order_actions.o src/pickup.o src/counter_sale.o src/order_edit_apply.o src/order_edit.o src/order_follow_up.o \
              src/returns.o src/rma_create.o src/rma_receive.o src/rma_refund.o \
              src/oms.o
PG_CONFIG  ?= pg_config
# The server headers are included as system headers so that the test build's
# -Wall -Wextra -Werror (see test/run) judges our code, not PostgreSQL's.
PG_CPPFLAGS = -I$(srcdir)/src -isystem $(shell $(PG_CONFIG) --includedir-server)
# The version has one source, default_version in oms.control: oms.version()
# reports it from this define.
PG_CPPFLAGS += -DOMS_VERSION_STR=\"$(EXTVERSION)\"

# The install script is assembled from one part per area, in this explicit
# order (never $(wildcard): its order is not stable). Each part sits beside
# the C file of its area.
SQL_PARTS   = src/oms.sql src/gtin.sql src/catalog.sql src/customers.sql src/inventory.sql src/orders.sql src/routing.sql src/events.sql src/lifecycle.sql src/pricing.sql src/purchasing.sql src/payments.sql src/order_edit.sql src/fulfillment.sql src/documents.sql src/stores.sql src/returns.sql src/ledger.sql src/charges.sql src/invoices.sql src/reports.sql src/check.sql src/grants.sql

DATA_built  = oms--$(EXTVERSION).sql
# upgrade scripts (oms--A--B.sql) are committed as they are
DATA        = $(wildcard oms--*--*.sql)
EXTRA_CLEAN = $(DATA_built)

# pg_regress: one file per feature, in this order (install must run first).
REGRESS      = install gtin catalog security inventory orders lifecycle status_capabilities status_rules payments coverage card_guard input_bounds input_overflow events routing fulfillment kits_fulfillment returns returns_money money_path reports ledger kit_bom payment_tokens document_placed order_edit substitutes purchasing stores route_promise customers pricing promotions charges invoices pricing_charges oracle
REGRESS_OPTS = --inputdir=. --outputdir=.

# isolation specs live in test/specs, expected output in test/expected.
ISOLATION      = kit_kind_race gtin_unique_race last_units_race last_units_three opposite_order duplicate_external_id cancel_vs_place expiry_vs_place receive_vs_cancel rr_serialization double_capture gift_card_spend status_vs_cancel event_consumers transition_cache transition_cache_stale route_race route_capacity_race route_error_cleanup ship_vs_cancel shipment_claims reject_vs_place rma_claim_race rma_refund_race authorize_race report_refresh replay_vs_first kit_bom_vs_place refund_payment_vs_refund_rma void_capture_ship terms_vs_place edit_vs_ship edit_vs_cancel edit_vs_receive edit_vs_edit edit_vs_place propose_race po_receive_race write_off_race counter_vs_online handover_vs_expiry erase_vs_place code_last_use code_cancel_vs_place settle_invoice_race
ISOLATION_OPTS = --inputdir=test --outputdir=output_iso --load-extension=oms

# Perl TAP clusters (PostgreSQL::Test::Cluster) live in test/t with their
# shared helpers (test/t/OmsTap.pm).
TAP_TESTS   = 1
PROVE_TESTS = test/t/*.pl

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

$(DATA_built): $(SQL_PARTS) oms.control Makefile
	cat $(SQL_PARTS) > $@.tmp
	mv $@.tmp $@

all: $(DATA_built)

# the TAP files load their shared helpers from test/t (PGXS resets
# PROVE_FLAGS, so it is set after the include)
PROVE_FLAGS += -I test/t

# the library reports the version it was built with: rebuild on a new one
src/oms.o: oms.control

# .gitignore names the generated install script of this version only (not
# the committed upgrade scripts oms--A--B.sql): keep the two in step
$(DATA_built): | gitignore-check
.PHONY: gitignore-check
gitignore-check:
	@if [ -f $(srcdir)/.gitignore ] && ! grep -qxF '/$(DATA_built)' $(srcdir)/.gitignore; then \
		echo "error: .gitignore must list /$(DATA_built), the generated install script of version $(EXTVERSION)" >&2; exit 1; fi

# module_pathname in oms.control names this version's library
all: control-check
.PHONY: control-check
control-check:
	@grep -qxF "module_pathname = '\$$libdir/oms-$(EXTVERSION)'" $(srcdir)/oms.control || { \
		echo "error: oms.control must say module_pathname = '\$$libdir/oms-$(EXTVERSION)' (one library per version)" >&2; exit 1; }

# The upgrade test (test/t/011_upgrade.pl) installs the released 0.1.0 and
# updates it. Its fixtures are test data, never part of make install: the
# frozen 0.1.0 install script (test/upgrade/oms--0.1.0.sql) and the 0.1.0
# sources (test/upgrade/oms-0.1.0.tar.gz), whose library is oms.so.
UPGRADE_FROM = 0.1.0
EXTRA_CLEAN += upgrade-build
.PHONY: upgrade-fixtures install-upgrade-fixtures
upgrade-fixtures:
	rm -rf upgrade-build && mkdir -p upgrade-build
	tar -C upgrade-build -xzf $(srcdir)/test/upgrade/oms-$(UPGRADE_FROM).tar.gz
	$(MAKE) -C upgrade-build/oms-$(UPGRADE_FROM) PG_CONFIG=$(PG_CONFIG) >/dev/null
install-upgrade-fixtures:
	$(INSTALL_SHLIB) upgrade-build/oms-$(UPGRADE_FROM)/oms$(DLSUFFIX) '$(DESTDIR)$(pkglibdir)/oms$(DLSUFFIX)'
	$(INSTALL_DATA) $(srcdir)/test/upgrade/oms--$(UPGRADE_FROM).sql '$(DESTDIR)$(datadir)/extension/'

# print a variable, for test/run: make -s print-REGRESS
print-%:
	@echo $($*)

# make dist: the release tarball oms-$(EXTVERSION).tar.gz (PGXN takes it as
# it is), built from HEAD with git archive, so commit first. It refuses to
# build when META.json (version, and provides.oms version and file) does not
# name the release of oms.control's default_version, or when either file
# has changes that are not committed (they would not be in the tarball).
.PHONY: dist
dist:
	@meta=$$(perl -MJSON::PP -0777 -ne '$$m = decode_json($$_); $$p = $$m->{provides}{oms} // {}; \
		print join(" ", map { $$_ // "none" } $$m->{version}, $$p->{version}, $$p->{file})' $(srcdir)/META.json) || exit 1; \
	if [ "$$meta" != "$(EXTVERSION) $(EXTVERSION) oms--$(EXTVERSION).sql" ]; then \
		echo "error: META.json does not describe release $(EXTVERSION) (default_version in oms.control):" >&2; \
		echo "  META.json has version, provides.oms.version, provides.oms.file = $$meta" >&2; \
		echo "  expected $(EXTVERSION) $(EXTVERSION) oms--$(EXTVERSION).sql; bump the one that is behind" >&2; \
		exit 1; fi; \
	if ! git -C $(srcdir) diff --quiet HEAD -- oms.control META.json; then \
		echo "error: oms.control or META.json has changes that are not committed; make dist archives HEAD" >&2; \
		exit 1; fi; \
	git -C $(srcdir) archive --format=tar.gz --prefix=oms-$(EXTVERSION)/ -o oms-$(EXTVERSION).tar.gz HEAD && \
	echo "wrote oms-$(EXTVERSION).tar.gz (HEAD $$(git -C $(srcdir) rev-parse --short HEAD))"
