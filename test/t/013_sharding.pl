# Many merchants across clusters: the oms API routed by merchant with
# PL/Proxy (router/oms_router.sql). Three real clusters on this machine: a
# router and two partition servers; 8 merchants, each with a database of
# its own (oms, a small catalog, different stock), 4 on each partition.
#   - least privilege: the app login reaches the API only, not the
#     directory nor the PL/Proxy layer; reporting gets the platform reads;
#     nothing in the router database is granted to PUBLIC; the links into
#     the merchant databases are logins in oms_app / oms_reporting, and
#     PUBLIC may not connect to a merchant database;
#   - errors come back unchanged: SQLSTATE, message, detail and hint of
#     OM001, 22023, 55000 and 22004 through the router are what the same
#     call raises on the merchant database directly; an unknown merchant is
#     22023 "unknown merchant"; PL/Proxy's reconnect notice after an error
#     does not reach the caller;
#   - a storm: 6 clients (test/shard/client.py) place orders for all
#     merchants through the router, pay and cancel some; afterwards
#     oms.check() is empty on every merchant database (directly, and
#     through oms_router.check), and each merchant database holds exactly
#     the orders its clients saw acknowledged (by external_id);
#   - platform reads (sales per merchant and day, stock per merchant, RUN ON
#     ALL) equal the same reads made on each merchant database; a directory
#     row pointing at another merchant's database is reported by
#     check(merchant) and refused by the platform reads (no double count);
#   - moving a merchant to the other partition (router/move-merchant) while
#     4 clients keep placing orders for every merchant: its calls pause
#     (57P03) and are retried, then go to the new database; every order
#     acknowledged before and during the move is there, oms.check() is
#     empty, the old database is closed and renamed, a new order lands on
#     the new partition only, and the platform reads still add up;
#   - the router's overhead: pgbench place_order through the router against
#     the same calls on the merchant database directly, interleaved in this
#     run (4 clients); get_order the same way (the hop's own cost); the tps,
#     the ratios and the time added per call are printed, and the database
#     bytes per order the benchmark's orders took.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Cwd;
use JSON::PP;
use Time::HiRes qw(time usleep);
use OmsTap qw(server_log_problems);

my $python = $ENV{OMS_PYTHON} || '/usr/bin/python3';
my $client = Cwd::abs_path('test/shard/client.py');
my $router_sql = Cwd::abs_path('router/oms_router.sql');
my $mover = Cwd::abs_path('router/move-merchant');
my $seed = $ENV{OMS_SHARD_SEED} || int(rand(2**31));
note "seed $seed (replay: OMS_SHARD_SEED=$seed)";

my @merchants = qw(acme bolt cora dune ember fjord gale hollow);

# ---- the clusters ---------------------------------------------------------------

sub new_node
{
    my ($name, $max) = @_;
    my $node = PostgreSQL::Test::Cluster->new($name);
    $node->init;
    $node->append_conf('postgresql.conf', qq{
log_statement = none
max_connections = $max
});
    $node->start;
    return $node;
}
my $router = new_node('router', 60);
my @parts = (new_node('part1', 120), new_node('part2', 120));

sub dsn { my ($node, $db, $user) = @_; return $node->connstr($db) . ($user ? " user=$user" : ''); }
sub place_connstr { my ($node, $db) = @_; return 'host=' . $node->host . ' port=' . $node->port . " dbname=$db"; }

# each merchant: a database on a partition, oms, the merchant setting,
# CONNECT for the two link logins only, a catalog (4 skus, 2 warehouses),
# stock that differs by merchant (HOT runs out: OM001 happens)
my %home;    # merchant -> partition index
my %dbname;  # merchant -> database name
for my $i (0 .. $#merchants)
{
    my $m = $merchants[$i];
    my $p = $parts[ $i % 2 ];
    $home{$m} = $i % 2;
    $dbname{$m} = "shop_$m";
    $p->safe_psql('postgres', "CREATE DATABASE shop_$m");
    $p->safe_psql("shop_$m", 'CREATE EXTENSION oms');
    $p->safe_psql('postgres', q{
        DO $$ BEGIN
            IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'oms_link_app') THEN
                CREATE ROLE oms_link_app LOGIN IN ROLE oms_app;
                CREATE ROLE oms_link_reporting LOGIN IN ROLE oms_reporting;
            END IF;
        END $$;} . "
        REVOKE ALL ON DATABASE shop_$m FROM PUBLIC;
        GRANT CONNECT ON DATABASE shop_$m TO oms_link_app, oms_link_reporting;
        ALTER DATABASE shop_$m SET oms_router.merchant = '$m';");
    my ($hot, $plenty) = (20 + 5 * $i, 100000 + $i);
    $p->safe_psql("shop_$m", qq{
        INSERT INTO oms.channels (code, name, kind) VALUES ('web', 'Web', 'web');
        INSERT INTO oms.locations (code, name, kind, latitude, longitude, priority) VALUES
            ('WH1', 'Warehouse 1', 'warehouse', 52.40, 13.51, 10),
            ('WH2', 'Warehouse 2', 'warehouse', 50.11, 8.68, 20);
        INSERT INTO oms.products (sku, name, kind, unit_cost) VALUES
            ('P1', 'Plenty 1', 'stock', 2.50), ('P2', 'Plenty 2', 'stock', 4.00),
            ('P3', 'Plenty 3', 'stock', 1.25), ('HOT', 'Hot', 'stock', 9.90);
        SELECT oms.receive_stock(sku, loc, qty) FROM (VALUES
            ('P1', 'WH1', $plenty), ('P2', 'WH1', $plenty), ('P2', 'WH2', $plenty), ('P3', 'WH2', $plenty),
            ('HOT', 'WH1', $hot), ('HOT', 'WH2', 3)) v(sku, loc, qty);
    });
}

# the router: PL/Proxy, router/oms_router.sql, the directory, the logins
$router->safe_psql('postgres', 'CREATE DATABASE router');
$router->safe_psql('router', 'CREATE EXTENSION plproxy');
$router->command_ok([ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $router->connstr('router'), '-f', $router_sql ],
    'router/oms_router.sql loads into the router database');
$router->safe_psql('router', join('', map {
    "INSERT INTO oms_router.merchants (merchant, connstr) VALUES ('$_', '" . place_connstr($parts[ $home{$_} ], $dbname{$_}) . "');\n"
} @merchants) . q{
    CREATE ROLE shop_app LOGIN IN ROLE oms_router_app;
    CREATE ROLE platform_bi LOGIN IN ROLE oms_router_reporting;
});
my $app = dsn($router, 'router', 'shop_app');
my $bi = dsn($router, 'router', 'platform_bi');

# ---- least privilege ------------------------------------------------------------

sub psql_as
{
    my ($node, $connstr, $sql) = @_;
    my ($out, $err) = ('', '');
    IPC::Run::run([ 'psql', '-X', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-v', 'VERBOSITY=verbose', '-d', $connstr, '-c', $sql ],
        '>', \$out, '2>', \$err);
    chomp $out;
    return ($out, $err);
}

is($router->safe_psql('router', q{
    SELECT string_agg(n.nspname || '.' || p.proname, ', ' ORDER BY 1)
      FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
     WHERE n.nspname IN ('oms_router', 'oms_router_remote', 'plproxy')
       AND (p.proacl IS NULL OR EXISTS (SELECT FROM aclexplode(p.proacl) a WHERE a.grantee = 0))}),
    '', 'no router function is executable by PUBLIC');
is($router->safe_psql('router', q{
    SELECT string_agg(c.relname, ', ')
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname IN ('oms_router', 'oms_router_remote')
       AND EXISTS (SELECT FROM aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) a WHERE a.grantee = 0)
    UNION ALL
    SELECT string_agg(nspname, ', ') FROM pg_namespace
     WHERE nspname IN ('oms_router', 'oms_router_remote', 'plproxy')
       AND EXISTS (SELECT FROM aclexplode(nspacl) a WHERE a.grantee = 0)}),
    "\n", 'no router table, view, sequence or schema is granted to PUBLIC');
my ($out, $err) = psql_as($router, $app, 'SELECT connstr FROM oms_router.merchants');
like($err, qr/ERROR:  42501: permission denied for table merchants/, 'the app login cannot read the directory');
($out, $err) = psql_as($router, $app, q{SELECT oms_router_remote.get_order('acme', 1)});
like($err, qr/ERROR:  42501: permission denied for schema oms_router_remote/, 'the app login cannot call the PL/Proxy layer');
($out, $err) = psql_as($router, $app, 'SELECT * FROM oms_router.platform_stock()');
like($err, qr/ERROR:  42501: permission denied for function platform_stock/, 'the app login cannot run platform reads');
($out, $err) = psql_as($router, $bi, q{SELECT oms_router.cancel_order('acme', 1)});
like($err, qr/ERROR:  42501: permission denied for function cancel_order/, 'the reporting login cannot call the API');
($out, $err) = psql_as($parts[0], dsn($parts[0], 'shop_acme', 'oms_link_reporting'), 'SELECT count(*) FROM oms.orders');
like($err, qr/ERROR:  42501: permission denied for table orders/, 'the reporting link cannot read the tables of a merchant database');
$parts[0]->safe_psql('postgres', 'CREATE ROLE nobody LOGIN');
($out, $err) = psql_as($parts[0], dsn($parts[0], 'shop_acme', 'nobody'), 'SELECT 1');
like($err, qr/permission denied for database "shop_acme"/, 'a login without the grant cannot connect to a merchant database');

# ---- errors come back unchanged ---------------------------------------------------

# the error as psql prints it (VERBOSITY verbose), without the CONTEXT and
# LOCATION lines (the router's are its own)
sub error_of
{
    my ($err) = @_;
    my @keep = grep { /^(?:psql:.*?)?(?:ERROR|DETAIL|HINT):/ } split /\n/, $err;
    s/^psql:[^:]*:\d+: // for @keep;
    s/^psql: // for @keep;
    return join("\n", @keep);
}
my $direct_acme = dsn($parts[0], 'shop_acme', 'oms_link_app');
my $short = '{"channel": "web", "external_id": "err-1", "currency": "EUR", "lines": [{"sku": "HOT", "qty": 500, "unit_price": 1}, {"sku": "P1", "qty": 1, "unit_price": 1}]}';
my $badsku = '{"channel": "web", "external_id": "err-2", "currency": "EUR", "lines": [{"sku": "NOPE", "qty": 1, "unit_price": 1}]}';
my $ok = '{"channel": "web", "external_id": "err-3", "currency": "EUR", "lines": [{"sku": "P1", "qty": 1, "unit_price": 1}]}';
for my $case (
    [ 'OM001', 'insufficient stock', "oms.place_order('$short')", "oms_router.place_order('acme', '$short')" ],
    [ '22023', 'unknown sku', "oms.place_order('$badsku')", "oms_router.place_order('acme', '$badsku')" ],
    [ '22023', 'unknown order', 'oms.cancel_order(999999)', q{oms_router.cancel_order('acme', 999999)} ],
    [ '22004', 'NULL document', 'oms.place_order(NULL)', q{oms_router.place_order('acme', NULL)} ])
{
    my ($state, $what, $direct_call, $router_call) = @$case;
    my (undef, $e1) = psql_as($parts[0], $direct_acme, "SELECT $direct_call");
    my (undef, $e2) = psql_as($router, $app, "SELECT $router_call");
    like(error_of($e1), qr/^ERROR:  $state: /, "$what: the merchant database raises $state");
    is(error_of($e2), error_of($e1), "$what: the router raises the same SQLSTATE, message, detail and hint");
}
# 55000: a shipped order cannot be cancelled
my $shipped_id = $router->safe_psql('router', qq{
    SELECT oms_router.place_order('acme', '$ok') ->> 'order_id'});
$parts[0]->safe_psql('shop_acme', qq{
    INSERT INTO oms.carriers (code, name) VALUES ('dhl', 'DHL');
    INSERT INTO oms.carrier_services (carrier_id, code, name, transit_days) SELECT id, 'std', 'Paket', 2 FROM oms.carriers;
    INSERT INTO oms.shipping_rates (service_id, currency, max_km, max_kg, price) SELECT id, 'EUR', NULL, NULL, 4.90 FROM oms.carrier_services;});
is($router->safe_psql('router', qq{
    SELECT oms_router.authorize_payment('acme', $shipped_id, '{"method": "cash", "amount": 1}') ->> 'payment_id' AS pay \\gset
    SELECT oms_router.get_order('acme', $shipped_id) ->> 'status';
    SELECT oms_router.capture_payment('acme', :pay) IS NOT NULL;
    SELECT oms_router.ship('acme', (oms_router.create_shipment('acme', $shipped_id, 'WH1') ->> 'shipment_id')::bigint,
                           'dhl', 'std', 'TRK-1') ->> 'status';}),
    "confirmed\nt\nshipped", 'authorize, capture, create_shipment and ship through the router');
{
    my (undef, $e1) = psql_as($parts[0], $direct_acme, "SELECT oms.cancel_order($shipped_id)");
    my (undef, $e2) = psql_as($router, $app, "SELECT oms_router.cancel_order('acme', $shipped_id)");
    like(error_of($e1), qr/^ERROR:  55000: /, 'cancelling a shipped order: the merchant database raises 55000');
    is(error_of($e2), error_of($e1), 'cancelling a shipped order: the router raises the same SQLSTATE, message, detail and hint');
}
($out, $err) = psql_as($router, $app, qq{SELECT oms_router.place_order('nobody', '$ok')});
like(error_of($err), qr/^ERROR:  22023: unknown merchant "nobody"\nHINT:  /, 'an unknown merchant is 22023 "unknown merchant"');
# PL/Proxy reconnects after a remote error and says so in a NOTICE: not
# passed on to callers
(undef, $err) = psql_as($router, $app, qq{
    DO \$\$ BEGIN PERFORM oms_router.cancel_order('acme', 999999); EXCEPTION WHEN OTHERS THEN NULL; END \$\$;
    SELECT oms_router.get_order('acme', $shipped_id) IS NOT NULL});
is($err, '', 'after an error caught in the session, the next call prints no notice');
is($parts[0]->safe_psql('shop_acme', q{SELECT count(*) FROM oms.orders WHERE external_id LIKE 'err-%'}), '1',
    'only the order that succeeded was written (err-3)');

# ---- the storm ------------------------------------------------------------------

my $dir = $router->basedir;
sub run_clients
{
    my ($name, $clients, $seconds, @more) = @_;
    my ($cout, $cerr) = ('', '');
    my $h = IPC::Run::start(
        [ $python, $client, '--dsn', $app, '--merchants', join(',', @merchants), '--clients', $clients,
          '--seconds', $seconds, '--prefix', $name, '--log', "$dir/$name.log", '--seed', $seed, @more ],
        '<', \undef, '>', \$cout, '2>', \$cerr, IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
    return sub {
        my $finished = eval { $h->finish; 1 };
        diag("client errors: $cerr") if $cerr ne '';
        my $totals = eval { decode_json($cout) } // { errors => [ "no totals: $cout" ] };
        return ($finished && $h->result == 0, $totals);
    };
}
sub acked
{
    my %acked;
    for my $name (@_)
    {
        for (split /\n/, slurp_file("$dir/$name.log"))
        {
            my $r = decode_json($_);
            push @{ $acked{ $r->{merchant} } }, $r->{external_id};
        }
    }
    return \%acked;
}
sub stored
{
    my ($m, $prefix) = @_;
    my $p = $parts[ $home{$m} ];
    return [ split /\n/, $p->safe_psql($dbname{$m}, "SELECT external_id FROM oms.orders WHERE external_id LIKE '$prefix-%' ORDER BY 1") ];
}

my $t0 = time;
my ($fine, $totals) = run_clients('s1', 6, 10)->();
ok($fine, 'the storm: 6 clients ran without an unexpected error') or diag(explain($totals->{errors}));
note sprintf('storm: %.1f s, totals %s', time - $t0, encode_json($totals));
my $acked = acked('s1');
my $total_acked = 0;
$total_acked += scalar @{ $acked->{$_} // [] } for @merchants;
cmp_ok($total_acked, '>=', 200, "the storm acknowledged $total_acked orders");
cmp_ok(scalar(grep { @{ $acked->{$_} // [] } >= 10 } @merchants), '==', scalar(@merchants), 'every merchant got orders');
cmp_ok(eval { my $r = 0; $r += $_ for values %{ $totals->{refused} }; $r } // 0, '>', 0,
    'some orders were refused with OM001 (the hot sku ran out)');

for my $m (@merchants)
{
    my $p = $parts[ $home{$m} ];
    is_deeply(stored($m, 's1'), [ sort @{ $acked->{$m} } ], "$m: its database holds exactly the orders acknowledged for it");
    is($p->safe_psql($dbname{$m}, 'SELECT invariant, detail FROM oms.check()'), '', "$m: oms.check() is empty on its database");
    is($router->safe_psql('router', "SELECT * FROM oms_router.check('$m')"), '', "$m: oms_router.check('$m') is empty");
}
# no order of one merchant in another's database
my %all_ext;
for my $m (@merchants) { $all_ext{$_}++ for @{ stored($m, 's1') }; }
is(scalar(grep { $all_ext{$_} > 1 } keys %all_ext), 0, 'no external_id is stored in two merchant databases');

# ---- platform reads ---------------------------------------------------------------

sub direct_sales
{
    return join("\n", map {
        my $m = $_;
        $parts[ $home{$m} ]->safe_psql($dbname{$m}, qq{
            SELECT '$m', day, currency, sum(orders), sum(units), sum(net)
              FROM oms.report_sales_daily WHERE day >= current_date - 1 GROUP BY day, currency ORDER BY day, currency})
    } sort @merchants);
}
sub direct_stock
{
    return join("\n", map {
        my $m = $_;
        $parts[ $home{$m} ]->safe_psql($dbname{$m}, qq{
            SELECT '$m', count(DISTINCT sku), coalesce(sum(on_hand), 0), coalesce(sum(reserved), 0),
                   coalesce(sum(available), 0), coalesce(sum(value_at_cost), 0)
              FROM oms.report_inventory WHERE location IS NOT NULL})
    } sort @merchants);
}
sub platform_reads_add_up
{
    my ($when) = @_;
    my ($sales, $e1) = psql_as($router, $bi, 'SELECT * FROM oms_router.platform_sales_daily(current_date - 1)');
    is($e1, '', "$when: platform_sales_daily runs as the reporting login");
    is($sales, direct_sales(), "$when: platform_sales_daily equals each merchant database's report_sales_daily");
    my ($stock, $e2) = psql_as($router, $bi, 'SELECT * FROM oms_router.platform_stock()');
    is($stock, direct_stock(), "$when: platform_stock equals each merchant database's report_inventory");
    is(scalar(split /\n/, $stock), scalar(@merchants), "$when: platform_stock has one row per merchant");
    return;
}
platform_reads_add_up('after the storm');

# a directory row that points at another merchant's database (here cora's
# row at dune's database): check(merchant) says so, and the platform reads
# refuse to count dune twice
my $cora = $router->safe_psql('router', q{SELECT connstr FROM oms_router.merchants WHERE merchant = 'cora'});
$router->safe_psql('router', "UPDATE oms_router.merchants SET connstr = '" . place_connstr($parts[ $home{dune} ], $dbname{dune})
    . " connect_timeout=10' WHERE merchant = 'cora'");
is($router->safe_psql('router', q{SELECT * FROM oms_router.check('cora')}),
    'merchant_identity|the database shop_dune belongs to merchant dune, not to cora',
    'check(merchant) reports a directory row that points at another merchant\'s database');
($out, $err) = psql_as($router, $bi, 'SELECT * FROM oms_router.platform_stock()');
like(error_of($err), qr/^ERROR:  55000: the merchant databases did not answer once each/,
    'platform_stock refuses to count a database twice');
($out, $err) = psql_as($router, $bi, 'SELECT * FROM oms_router.platform_sales_daily(current_date - 1)');
like(error_of($err), qr/^ERROR:  55000: the merchant databases did not answer once each/,
    'platform_sales_daily refuses to count a database twice');
$router->safe_psql('router', "UPDATE oms_router.merchants SET connstr = '$cora' WHERE merchant = 'cora'");
is($router->safe_psql('router', q{SELECT * FROM oms_router.check('cora')}), '', 'cora\'s row restored: check is empty');
($out, $err) = psql_as($router, dsn($router, 'router'), q{INSERT INTO oms_router.merchants VALUES ('x', 'dbname=x user=postgres')});
like($err, qr/merchants_connstr_chk/, 'a directory connection string may not name a user');

# ---- moving a merchant, under load ----------------------------------------------------

my $moving = 'acme';
my ($from, $to) = ($parts[ $home{$moving} ], $parts[ 1 - $home{$moving} ]);
my $wait = run_clients('s2', 4, 8, '--only-place');
# the clients are under way: 40 orders acknowledged
my $deadline = time + 60;
usleep(50_000) while time < $deadline && !(-e "$dir/s2.log" && (() = slurp_file("$dir/s2.log") =~ /\n/g) >= 40);
my ($mout, $merr) = ('', '');
my $mt0 = time;
my $moved = IPC::Run::run(
    [ $mover, $moving, $router->connstr('router'), 'host=' . $from->host . ' port=' . $from->port, $dbname{$moving},
      'host=' . $to->host . ' port=' . $to->port, "shop_${moving}_2", place_connstr($to, "shop_${moving}_2") ],
    '>', \$mout, '2>', \$merr);
my $move_s = time - $mt0;
ok($moved, sprintf('router/move-merchant moves %s under load (%.1f s)', $moving, $move_s)) or diag($merr);
note $merr;
($fine, $totals) = $wait->();
ok($fine, 'the clients during the move ran without an unexpected error') or diag(explain($totals->{errors}));
note 'during the move: totals ' . encode_json($totals);
cmp_ok($totals->{retries}{'57P03'} // 0, '>', 0, 'calls for the merchant being moved were refused with 57P03 and retried');
$home{$moving} = 1 - $home{$moving};
$dbname{$moving} = "shop_${moving}_2";

is($router->safe_psql('router', "SELECT connstr, state FROM oms_router.merchants WHERE merchant = '$moving'"),
    place_connstr($to, "shop_${moving}_2") . '|active', 'the directory points at the new database');
like($from->safe_psql('postgres', "SELECT datname || ' ' || datconnlimit FROM pg_database WHERE datname LIKE 'shop_${moving}%'"),
    qr/^shop_${moving}_moved_\d{14} 0$/, 'the old database is renamed and closed to new sessions');
$acked = acked('s1', 's2');
for my $m (@merchants)
{
    my @want = sort grep { /^s2-/ } @{ $acked->{$m} // [] };
    is_deeply(stored($m, 's2'), \@want, "$m: exactly the orders acknowledged during the move are in its database");
}
is_deeply(stored($moving, 's1'), [ sort grep { /^s1-/ } @{ $acked->{$moving} } ],
    "$moving: the orders of the storm moved with it");
is($to->safe_psql($dbname{$moving}, 'SELECT invariant, detail FROM oms.check()'), '', "$moving: oms.check() is empty on the new database");
is($router->safe_psql('router', "SELECT * FROM oms_router.check('$moving')"), '', "$moving: oms_router.check is empty");
my $new_id = $router->safe_psql('router', q{SELECT oms_router.place_order('acme',
    '{"channel": "web", "external_id": "after-move", "currency": "EUR", "lines": [{"sku": "P2", "qty": 1, "unit_price": 1}]}') ->> 'order_id'});
is($to->safe_psql($dbname{$moving}, q{SELECT id FROM oms.orders WHERE external_id = 'after-move'}), $new_id,
    'a call after the move lands on the new partition');
is($from->safe_psql('postgres', q{SELECT count(*) FROM pg_stat_activity WHERE datname LIKE 'shop_acme%'}), '0',
    'and nothing connects to the old database');
for my $m (@merchants)
{
    is($parts[ $home{$m} ]->safe_psql($dbname{$m}, 'SELECT invariant, detail FROM oms.check()'), '',
        "$m: oms.check() is empty after the move") unless $m eq $moving;
}
platform_reads_add_up('after the move');

# ---- the router's overhead ---------------------------------------------------------

# pgbench, 4 clients, on merchant bolt: place_order (2 lines, plentiful
# stock, a new external_id each time) through the router and directly, 4 s
# each, twice, interleaved; then get_order of one order (the cheapest call:
# what the hop itself costs), 3 s each
my $bm = 'bolt';
my $bp = $parts[ $home{$bm} ];
my $order_doc = '{"channel": "web", "external_id": "bench-:e", "currency": "EUR", "lines": [{"sku": "P1", "qty": 1, "unit_price": 10}, {"sku": "P3", "qty": 1, "unit_price": 5}]}';
my $one = $bp->safe_psql($dbname{$bm}, 'SELECT min(id) FROM oms.orders');
my %script = (
    router_place => "\\set e random(1, 1000000000000)\nSELECT oms_router.place_order('$bm', '$order_doc');\n",
    direct_place => "\\set e random(1, 1000000000000)\nSELECT oms.place_order('$order_doc');\n",
    router_get => "SELECT oms_router.get_order('$bm', $one);\n",
    direct_get => "SELECT oms.get_order($one);\n");
append_to_file("$dir/$_.sql", $script{$_}) for keys %script;
my $direct_dsn = dsn($bp, $dbname{$bm}, 'oms_link_app');
sub tps
{
    my ($which, $seconds) = @_;
    my ($o, $e) = ('', '');
    IPC::Run::run([ 'pgbench', '-n', '-c', 4, '-j', 4, '-T', $seconds, '-f', "$dir/$which.sql",
                    $which =~ /^router/ ? $app : $direct_dsn ], '>', \$o, '2>', \$e);
    my ($tps) = $o =~ /^tps = ([\d.]+) \(without initial connection time\)/m;
    my ($failed) = $o =~ /^number of failed transactions: (\d+)/m;
    ok(defined $tps && $tps > 0 && $e !~ /error|abort/i && ($failed // 0) == 0, "pgbench $which: no failed transaction")
      or diag("$o\n$e");
    return $tps // 0;
}
my $size0 = $bp->safe_psql($dbname{$bm}, 'SELECT pg_database_size(current_database()) || \' \' || count(*) FROM oms.orders');
my %tps;
for my $round (1, 2)
{
    $tps{$_} += tps($_, 4) / 2 for qw(router_place direct_place);
}
$tps{$_} = tps($_, 3) for qw(router_get direct_get);
for my $call (qw(place get))
{
    my ($r, $d) = ($tps{"router_$call"}, $tps{"direct_$call"});
    diag(sprintf('router overhead, %s_order, 4 clients: %.0f tps through the router, %.0f tps direct, ratio %.2f; '
                 . '%.0f us more per call', $call, $r, $d, $d ? $r / $d : 0, ($r && $d) ? 4e6 / $r - 4e6 / $d : 0));
}
$bp->safe_psql($dbname{$bm}, 'CHECKPOINT');
my ($bytes0, $orders0) = split / /, $size0;
my ($bytes1, $orders1) = split / /, $bp->safe_psql($dbname{$bm}, 'SELECT pg_database_size(current_database()) || \' \' || count(*) FROM oms.orders');
diag(sprintf('database size per order (2 lines, pending payment; heap, indexes, ledger, events): %.0f bytes over %d orders',
    ($bytes1 - $bytes0) / ($orders1 - $orders0), $orders1 - $orders0));
# fresh statistics first: oms.check() right after tens of thousands of new
# orders, before autovacuum analysed them, can take minutes (bad plans)
$bp->safe_psql($dbname{$bm}, 'ANALYZE');
is($bp->safe_psql($dbname{$bm}, 'SELECT invariant, detail FROM oms.check()'), '', "$bm: oms.check() is empty after the benchmark");

for my $node ($router, @parts)
{
    my ($deadlocks, $problems) = server_log_problems($node);
    is($deadlocks + $problems, 0, $node->name . ': no deadlock, crashed backend or PANIC in the server log');
}
done_testing();
