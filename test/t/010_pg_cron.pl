# pg_cron runs the oms sweeps as a least-privilege LOGIN role: the setup the
# README (Operations, Scheduling with pg_cron) recommends, and the one it
# offers as the alternative, each on a cluster of its own.
#
# The sweeps oms has today: oms.expire_reservations() (lapsed holds of
# unpaid orders; oms_admin and oms_app may run it) and oms.refresh_reports()
# (the materialized reports; oms_admin only, src/grants.sql). So the
# scheduler is `oms_scheduler LOGIN IN ROLE oms_admin`, without a password.
# A job runs as its role, and pg_cron starts every run as a new session of
# that role: the role must be able to log in, which the NOLOGIN oms_admin
# cannot.
#
#   bgworker  cron.use_background_workers = on (recommended): each run is a
#             background worker of the server, with no client connection,
#             so no pg_hba line, password or pg_ident map is involved;
#             pg_hba.conf here even rejects every connection of
#             oms_scheduler (asserted), and the jobs still run.
#   libpq     the default: pg_cron connects with libpq to cron.host, here
#             the server's Unix socket, and pg_hba.conf lets the server's
#             own OS user in as oms_scheduler through a peer map
#             (pg_ident.conf) and nothing else.
#
# On each: shared_preload_libraries = 'pg_cron', cron.database_name = the
# oms database (shop), oms and a small catalog; an unpaid order whose hold
# lapsed (expires_at backdated, as superuser) and a paid one. A superuser
# schedules both sweeps with cron.schedule_in_database(..., username =>
# 'oms_scheduler'), the refresh as "SET TRANSACTION ISOLATION LEVEL
# REPEATABLE READ; SELECT oms.refresh_reports()" (pg_cron refuses BEGIN and
# COMMIT in a background worker; SET TRANSACTION works in both modes). Then:
#   - cron.schedule_in_database(..., username => 'oms_admin') is refused at
#     once (the role cannot log in); the README's old advice, a job created
#     by oms_admin itself (SET ROLE oms_admin; cron.schedule(...)), is
#     accepted, and every run of it fails: "connection failed" over libpq,
#     "role "oms_admin" is not permitted to log in" in a background worker;
#   - polled (bounded), cron.job_run_details shows a succeeded run of each
#     oms_scheduler job in shop, and none failed: the two sweeps and a
#     monitor, a DO block that raises when oms.check() has a row; the same
#     monitor fails, saying so, in a second database (broken) where a
#     breach is planted;
#   - the lapsed order is expired, its reservation released and its units
#     available again; the paid order keeps its reservation;
#   - the six materialized reports were refreshed, all as of one snapshot
#     (the same as_of: the REPEATABLE READ took effect), with row counts
#     that match their contents, and the paid order's sale in
#     report_channels_mv;
#   - oms.check() is empty.
#
# Time: Debian 12's pg_cron is 1.4, whose finest schedule is a minute
# ('N seconds' came in 1.5), so a job first runs at the next minute
# boundary: both clusters are set up first and wait for the same boundary,
# so the test takes 10 to 70 seconds.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);

my @modes = qw(bgworker libpq);
my (%node, %job);

$node{$_} = PostgreSQL::Test::Cluster->new("cron_$_") for @modes;
my $control = $node{bgworker}->config_data('--sharedir') . '/extension/pg_cron.control';
if (!-f $control)
{
    # CI installs postgresql-15-cron (scripts/lib.sh OMS_PACKAGES): a
    # missing pg_cron is a broken machine, not a reason to pass quietly
    fail("pg_cron is installed ($control; Debian package postgresql-15-cron)");
    done_testing();
    exit;
}
my $os_user = getpwuid($>);

# a line at the top of the node's pg_hba.conf (the first line that matches
# decides; the rest is the test cluster's own trust for the Unix socket)
sub hba_first
{
    my ($node, $line) = @_;
    my $hba = $node->data_dir . '/pg_hba.conf';
    my $rest = slurp_file($hba);
    open my $fh, '>', $hba or die "cannot write $hba: $!";
    print $fh "$line\n$rest";
    close $fh or die "cannot write $hba: $!";
    return;
}

for my $mode (@modes)
{
    my $node = $node{$mode};
    $node->init;
    # (until CREATE DATABASE shop below, the pg_cron launcher exits at once
    # and the postmaster starts it again a second later)
    $node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'pg_cron'
cron.database_name = 'shop'
log_statement = none
});
    if ($mode eq 'bgworker')
    {
        $node->append_conf('postgresql.conf', "cron.use_background_workers = on\n");
        hba_first($node, 'local all oms_scheduler reject');
    }
    else
    {
        # pg_cron connects from inside the server, so as the server's OS user
        $node->append_conf('postgresql.conf', "cron.host = '" . $node->host . "'\nlog_connections = on\n");
        $node->append_conf('pg_ident.conf', "oms_cron $os_user oms_scheduler\n");
        hba_first($node, 'local all oms_scheduler peer map=oms_cron');
    }
    $node->start;
    $node->safe_psql('postgres', 'CREATE DATABASE shop');
    $node->safe_psql('shop', q{
        CREATE EXTENSION oms;
        CREATE EXTENSION pg_cron;
        -- the scheduler: logs in (pg_cron starts each run as a session of
        -- the job's role), no password, refresh_reports needs oms_admin
        CREATE ROLE oms_scheduler LOGIN IN ROLE oms_admin;

        INSERT INTO oms.channels (code, name, kind, routing_strategy) VALUES ('web', 'Web', 'web', 'priority');
        INSERT INTO oms.locations (code, name, kind, latitude, longitude, priority, address) VALUES
            ('BER', 'Berlin', 'warehouse', 52.52, 13.40, 10, E'Lagerstrasse 1\n10115 Berlin');
        INSERT INTO oms.products (sku, name, kind, weight_kg, reorder_point, reorder_qty) VALUES
            ('MUG', 'Mug', 'stock', 0.4, 0, 0);
        INSERT INTO oms.customers (external_ref, email, name) VALUES ('ann', 'ann@example.com', 'Ann Example');
        SELECT oms.receive_stock('MUG', 'BER', 10);
        CREATE FUNCTION place(ext text, qty int) RETURNS bigint LANGUAGE sql AS
        $$ SELECT (oms.place_order(jsonb_build_object('channel', 'web', 'external_id', ext, 'currency', 'EUR',
               'customer', jsonb_build_object('external_ref', 'ann'),
               'ship_to', jsonb_build_object('name', 'Ann Example', 'line1', 'Am Kanal 5', 'postal_code', '14467',
                                             'city', 'Potsdam', 'country', 'DE', 'lat', 52.39, 'lon', 13.06),
               'lines', jsonb_build_array(jsonb_build_object('sku', 'MUG', 'qty', qty, 'unit_price', 10)))) ->> 'order_id')::bigint $$;
        -- unpaid, its hold lapsed a minute ago
        SELECT place('LAPSED-1', 3);
        UPDATE oms.orders SET expires_at = now() - interval '1 minute' WHERE external_id = 'LAPSED-1';
        -- paid: a sale for the reports, its reservation stays
        SELECT place('PAID-1', 2);
        SELECT oms.capture_payment((oms.authorize_payment(o.id, jsonb_build_object('method', 'card', 'amount', o.total,
                   'token', 'tok_paid_1')) ->> 'payment_id')::bigint) ->> 'status'
          FROM oms.orders o WHERE o.external_id = 'PAID-1';
    });
    is($node->safe_psql('shop', q{
        SELECT o.status || ' ' || sum(r.qty) FROM oms.orders o JOIN oms.reservations r ON r.order_id = o.id
         WHERE o.external_id = 'LAPSED-1' AND r.status = 'active' GROUP BY o.status}),
       'pending_payment 3', "$mode: before the sweep the lapsed order still holds 3 units");
    is($node->safe_psql('shop', 'SELECT count(*) FROM oms.materialized_reports WHERE as_of IS NULL OR row_count IS NULL'),
       '6', "$mode: before the sweep no materialized report has been refreshed");

    # the README's old advice: as oms_admin
    my ($rc, $out, $err) = $node->psql('shop',
        q{SELECT cron.schedule_in_database('oms-expire-admin', '* * * * *', 'SELECT oms.expire_reservations()', 'shop', 'oms_admin')});
    isnt($rc, 0, "$mode: cron.schedule_in_database for the NOLOGIN oms_admin is refused");
    like($err, qr/role "oms_admin" can not log in/, "$mode: ... because oms_admin cannot log in")
      or diag("stderr: $err");
    $node->safe_psql('shop', q{
        GRANT USAGE ON SCHEMA cron TO oms_admin;
        SET ROLE oms_admin;
        SELECT cron.schedule('oms-expire-admin', '* * * * *', 'SELECT oms.expire_reservations()');
        RESET ROLE;
        REVOKE USAGE ON SCHEMA cron FROM oms_admin;
    });

    # the recommended jobs, scheduled by a superuser for oms_scheduler
    $node->safe_psql('shop', q{
        SELECT cron.schedule_in_database('oms-expire', '* * * * *',
            'SELECT oms.expire_reservations()', 'shop', 'oms_scheduler');
        SELECT cron.schedule_in_database('oms-refresh-reports', '* * * * *',
            'SET TRANSACTION ISOLATION LEVEL REPEATABLE READ; SELECT oms.refresh_reports()', 'shop', 'oms_scheduler');
        -- monitoring: a run fails, and says so in cron.job_run_details, when
        -- oms.check() has a row
        SELECT cron.schedule_in_database('oms-check', '* * * * *',
            $cmd$DO $$ BEGIN IF EXISTS (SELECT FROM oms.check()) THEN
                RAISE EXCEPTION 'oms.check() is not empty: % row(s)', (SELECT count(*) FROM oms.check()); END IF; END $$$cmd$,
            'shop', 'oms_scheduler');
    });

    # the monitor can fail: the same job in a database with a planted
    # breach (5 units on hand without their movement, the guards bypassed
    # as sql/oracle.sql does)
    $node->safe_psql('postgres', 'CREATE DATABASE broken');
    $node->safe_psql('broken', q{
        CREATE EXTENSION oms;
        INSERT INTO oms.locations (code, name, kind, latitude, longitude, priority, address) VALUES
            ('BER', 'Berlin', 'warehouse', 52.52, 13.40, 10, E'Lagerstrasse 1\n10115 Berlin');
        INSERT INTO oms.products (sku, name, kind, weight_kg, reorder_point, reorder_qty) VALUES ('MUG', 'Mug', 'stock', 0.4, 0, 0);
        SELECT oms.receive_stock('MUG', 'BER', 10);
        SET session_replication_role = replica;
        UPDATE oms.stock_balances SET on_hand = on_hand + 5;
    });
    $node->safe_psql('shop', q{
        SELECT cron.schedule_in_database('oms-check-broken', '* * * * *', command, 'broken', 'oms_scheduler')
          FROM cron.job WHERE jobname = 'oms-check';
    });
    $job{$mode} = { map { split /\|/ } split /\n/,
        $node->safe_psql('shop', 'SELECT jobname, jobid FROM cron.job ORDER BY jobid') };
    is(join(' ', sort keys %{ $job{$mode} }), 'oms-check oms-check-broken oms-expire oms-expire-admin oms-refresh-reports',
       "$mode: five jobs scheduled");
}

# oms_scheduler cannot connect to the background-worker node at all
my ($rc, $out, $err) = $node{bgworker}->psql('shop', 'SELECT 1', extra_params => [ '-U', 'oms_scheduler' ]);
isnt($rc, 0, 'bgworker: pg_hba.conf rejects a connection as oms_scheduler');
like($err, qr/pg_hba\.conf rejects connection .* user "oms_scheduler"/, 'bgworker: ... by the reject line')
  or diag("stderr: $err");

# wait (bounded) for a finished run of each job on both nodes
my $t0 = time;
my $deadline = $t0 + $PostgreSQL::Test::Utils::timeout_default;
my %runs;
while (1)
{
    my $missing = 0;
    for my $mode (@modes)
    {
        $runs{$mode} = { map { my ($j, $s, $m) = split /\|/, $_, 3; ("$j $s" => $m) } split /\n/,
            $node{$mode}->safe_psql('shop', q{
                SELECT DISTINCT ON (j.jobname, d.status) j.jobname, d.status, coalesce(d.return_message, '')
                  FROM cron.job_run_details d JOIN cron.job j USING (jobid)
                 WHERE d.status IN ('succeeded', 'failed')
                 ORDER BY j.jobname, d.status, d.runid}) };
        $missing += !exists $runs{$mode}{$_} for 'oms-expire succeeded', 'oms-refresh-reports succeeded', 'oms-check succeeded', 'oms-check-broken failed',
          'oms-expire-admin failed';
    }
    last if !$missing || time > $deadline;
    usleep(250_000);
}
note sprintf('the jobs ran after %.1f s', time - $t0);

my %admin_error = (bgworker => qr/role "oms_admin" is not permitted to log in/, libpq => qr/^connection failed$/);
for my $mode (@modes)
{
    my $node = $node{$mode};
    my $r = $runs{$mode};
    ok(exists $r->{'oms-expire succeeded'}, "$mode: the expiry sweep ran as oms_scheduler and succeeded")
      or diag(explain($r));
    ok(exists $r->{'oms-refresh-reports succeeded'}, "$mode: the report refresh ran as oms_scheduler and succeeded")
      or diag(explain($r));
    ok(exists $r->{'oms-check succeeded'}, "$mode: the oms.check() monitor ran as oms_scheduler and succeeded")
      or diag(explain($r));
    like($r->{'oms-check-broken failed'} // '', qr/oms\.check\(\) is not empty: 1 row\(s\)/,
         "$mode: the monitor's run in the database with a breach failed, saying so");
    ok(!exists $r->{'oms-expire failed'} && !exists $r->{'oms-refresh-reports failed'} && !exists $r->{'oms-check failed'},
       "$mode: no run of an oms_scheduler job failed") or diag(explain($r));
    is($node->safe_psql('shop', q{SELECT string_agg(DISTINCT d.username, ',') FROM cron.job_run_details d JOIN cron.job j USING (jobid)
                                   WHERE j.jobname IN ('oms-expire', 'oms-refresh-reports', 'oms-check')}),
       'oms_scheduler', "$mode: they ran as oms_scheduler");
    ok(exists $r->{'oms-expire-admin failed'}, "$mode: the job of the NOLOGIN oms_admin failed") or diag(explain($r));
    like($r->{'oms-expire-admin failed'} // '', $admin_error{$mode}, "$mode: ... with the error of its mode");
    ok(!exists $r->{'oms-expire-admin succeeded'}, "$mode: no run of the oms_admin job succeeded");

    if ($mode eq 'libpq')
    {
        # log_connections: the session pg_cron opened, and how it got in
        my $log = slurp_file($node->logfile);
        my @pids = ($log =~ /\[(\d+)\] \S* ?LOG:  connection authorized: user=oms_scheduler database=shop application_name=pg_cron/g);
        ok(scalar(@pids) > 0, 'libpq: pg_cron opened sessions as oms_scheduler');
        is(scalar(grep { $log =~ /\[$_\] \S* ?LOG:  connection authenticated: identity="\Q$os_user\E" method=peer \(\S*pg_hba\.conf:1\)/ } @pids),
           scalar(@pids), "libpq: ... each authenticated as OS user $os_user by peer, through the first pg_hba.conf line (the map)");
    }

    # the expiry sweep's effect
    is($node->safe_psql('shop', q{SELECT status FROM oms.orders WHERE external_id = 'LAPSED-1'}), 'expired',
       "$mode: the lapsed order is expired");
    is($node->safe_psql('shop', q{SELECT count(*) FROM oms.reservations r JOIN oms.orders o ON o.id = r.order_id
                                   WHERE o.external_id = 'LAPSED-1' AND r.status = 'active'}),
       '0', "$mode: its reservation is released");
    is($node->safe_psql('shop', q{SELECT on_hand || ' ' || reserved || ' ' || oms.available('MUG', 'BER')
                                    FROM oms.stock_balances b JOIN oms.products p ON p.id = b.product_id
                                   WHERE p.sku = 'MUG'}),
       '10 2 8', "$mode: its 3 units are available again; the paid order's 2 stay reserved");

    # the refresh's effect
    is($node->safe_psql('shop', q{SELECT count(*) || ' ' || count(DISTINCT as_of) FROM oms.materialized_reports
                                   WHERE as_of IS NOT NULL AND row_count IS NOT NULL}),
       '6 1', "$mode: all six materialized reports refreshed, as of one snapshot (REPEATABLE READ)");
    my $counts = $node->safe_psql('shop', q{
        SELECT string_agg(report, ' ' ORDER BY report) FROM oms.materialized_reports m
         WHERE row_count IS DISTINCT FROM (xpath('/row/c/text()',
                   query_to_xml(format('SELECT count(*) AS c FROM oms.%I', m.report), false, true, '')))[1]::text::bigint});
    is($counts, '', "$mode: each report's row_count is the rows it holds");
    is($node->safe_psql('shop', q{SELECT sum(orders) >= 1 FROM oms.report_channels_mv WHERE channel = 'web'}),
       't', "$mode: report_channels_mv counts the paid order");

    is($node->safe_psql('shop', 'SELECT invariant, detail FROM oms.check() ORDER BY 1, 2'), '',
       "$mode: oms.check() is empty");
    $node->stop;
}

done_testing();
