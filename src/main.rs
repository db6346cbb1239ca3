//! The `scimgate` command: serve (default), migrate, and org/admin/token management.
//! Errors print one line on stderr and exit with status 1; nothing prompts when stdin is
//! not a terminal.

use clap::Parser;
use scimgate::config::{
    AdminCommand, AppKeyCommand, BackupArgs, Cli, Command, OrgCommand, SeedArgs, ServeArgs,
    TokenCommand, WebhookCommand,
};
use scimgate::{management, server, store::Store};
use std::io::{IsTerminal, Read};

/// glibc's malloc took about a fifth of the server's CPU when paging (sqlx copies every
/// column of every row; bodies are JSON trees); mimalloc's per-thread pages cost far less.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    init_tracing(&cli.log_level, &cli.log_format);
    let ran = run(cli).await;
    scimgate::log_sink::stop();
    if let Err(e) = ran {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn init_tracing(filter: &str, format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colours only on a terminal: a log file, journald or a container's log collector
    // would otherwise store the escape codes with every line.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(scimgate::log_sink::Gathered::stderr());
    // A panic's message goes to standard error directly: the lines logged before it first.
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        scimgate::log_sink::flush();
        report(info);
    }));
    if format.eq_ignore_ascii_case("json") {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn open(url: &str) -> Result<Store, BoxError> {
    Store::connect(url)
        .await
        .map_err(|e| format!("cannot open database: {e}").into())
}

async fn run(cli: Cli) -> Result<(), BoxError> {
    match cli.command.unwrap_or(Command::Serve(ServeArgs::default())) {
        Command::Serve(args) => {
            let store = Store::connect_with(&cli.database_url, args.db_connections)
                .await
                .map_err(|e| format!("cannot open database: {e}"))?;
            server::serve(store, args).await
        }
        Command::Migrate => {
            let store = open(&cli.database_url).await?;
            store.close().await;
            eprintln!("migrations applied");
            Ok(())
        }
        Command::Org(OrgCommand::Create { login, name }) => {
            let store = open(&cli.database_url).await?;
            let org = management::create_org(&store, &login, name.as_deref()).await?;
            println!(
                "created organization {} ({}); SCIM base URL path: /scim/v2/{}",
                org.login, org.name, org.login
            );
            Ok(())
        }
        Command::Org(OrgCommand::List) => {
            let store = open(&cli.database_url).await?;
            for o in management::list_orgs(&store).await? {
                println!("{}\t{}", o.login, o.name);
            }
            Ok(())
        }
        Command::Admin(AdminCommand::Create { org, email }) => {
            let store = open(&cli.database_url).await?;
            let (password, generated) = read_password()?;
            let admin =
                management::create_admin(&store, &org, email.trim(), password.clone()).await?;
            eprintln!("created admin {} in organization {org}", admin.email);
            if generated {
                println!("{password}");
                eprintln!("(generated password shown once above)");
            }
            Ok(())
        }
        Command::Token(TokenCommand::Create {
            org,
            label,
            expires_in_days,
        }) => {
            let store = open(&cli.database_url).await?;
            let org = management::get_org(&store, &org).await?;
            let issued =
                management::create_token(&store, &org, &label, expires_in_days, Some("cli"))
                    .await?;
            eprintln!(
                "created SCIM token '{}' ({}) for {}; it is shown once:",
                issued.token.label, issued.token.hint, org.login
            );
            println!("{}", issued.secret);
            Ok(())
        }
        Command::Backup(BackupArgs { to, force }) => {
            let r = scimgate::store::backup::backup_sqlite(&cli.database_url, &to, force).await?;
            eprintln!(
                "backed up {} to {} ({} bytes, integrity check ok)",
                r.source.display(),
                to.display(),
                r.bytes
            );
            if let Some(k) = r.key {
                eprintln!(
                    "copied its secrets key (webhook signing secrets) to {}",
                    k.display()
                );
            }
            Ok(())
        }
        Command::Seed(SeedArgs {
            org,
            users,
            groups,
            memberships,
            events,
        }) => {
            let store = open(&cli.database_url).await?;
            let org = match management::get_org(&store, &org).await {
                Ok(o) => o,
                Err(management::ManagementError::UnknownOrg(_)) => {
                    management::create_org(&store, &org, None).await?
                }
                Err(e) => return Err(e.into()),
            };
            let start = std::time::Instant::now();
            let size = scimgate::seed::SeedSize {
                users,
                groups,
                memberships,
                events,
            };
            scimgate::seed::seed(&store, &org, size).await?;
            eprintln!("seeded {}: {users} users, {groups} groups, {memberships} memberships, {events} events in {:.1} s", org.login, start.elapsed().as_secs_f64());
            Ok(())
        }
        Command::Token(TokenCommand::List { org }) => {
            let store = open(&cli.database_url).await?;
            let org = management::get_org(&store, &org).await?;
            for t in management::list_tokens(&store, &org).await? {
                let state = t.state(scimgate::directory::now_ms());
                println!("{}\t{}\t{}\t{state}", t.id, t.hint, t.label);
            }
            Ok(())
        }
        Command::AppKey(AppKeyCommand::Create { org, label }) => {
            let store = open(&cli.database_url).await?;
            let org = management::get_org(&store, &org).await?;
            let issued = management::app_keys::create(&store, &org, &label).await?;
            eprintln!(
                "created application key '{}' ({}) for {}; it is shown once:",
                issued.key.label, issued.key.hint, org.login
            );
            println!("{}", issued.secret);
            Ok(())
        }
        Command::AppKey(AppKeyCommand::List { org }) => {
            let store = open(&cli.database_url).await?;
            let org = management::get_org(&store, &org).await?;
            for k in management::app_keys::list(&store, &org).await? {
                let state = if k.revoked_at.is_some() {
                    "revoked"
                } else {
                    "active"
                };
                let used = k
                    .last_used_at
                    .map(scimgate::directory::feed::iso8601)
                    .unwrap_or_else(|| "never used".into());
                println!("{}\t{}\t{}\t{state}\t{used}", k.id, k.hint, k.label);
            }
            Ok(())
        }
        Command::Webhook(WebhookCommand::Create {
            org,
            url,
            types,
            description,
            allow_private,
            secrets_key,
        }) => {
            let store = open(&cli.database_url).await?;
            scimgate::auth::sealing::install(secrets_key.as_deref(), store.sqlite_path())?;
            let org = management::get_org(&store, &org).await?;
            let made = management::webhooks::create(
                &store,
                &org,
                &url,
                &types,
                &description,
                allow_private,
            )
            .await?;
            eprintln!(
                "added webhook endpoint {} ({}) for {}; its signing secret is shown once:",
                made.endpoint.id, made.endpoint.url, org.login
            );
            println!("{}", made.secret);
            Ok(())
        }
        Command::Webhook(WebhookCommand::List { org }) => {
            let store = open(&cli.database_url).await?;
            let org = management::get_org(&store, &org).await?;
            for v in management::webhooks::list(&store, &org, 1).await? {
                let e = &v.endpoint;
                let state = match &e.disabled_reason {
                    Some(r) => format!("disabled: {r}"),
                    None if e.failing_since.is_some() => "failing".into(),
                    None => "active".into(),
                };
                let types = if e.event_types.is_empty() {
                    "all"
                } else {
                    &e.event_types
                };
                println!(
                    "{}\t{}\t{types}\t{state}\tdelivered up to #{}",
                    e.id, e.url, e.cursor_seq
                );
            }
            Ok(())
        }
        Command::Webhook(WebhookCommand::Delete { org, id }) => {
            let store = open(&cli.database_url).await?;
            let org = management::get_org(&store, &org).await?;
            management::webhooks::remove_cli(&store, &org, &id).await?;
            eprintln!("removed webhook endpoint {id}");
            Ok(())
        }
        Command::AppKey(AppKeyCommand::Revoke { org, id }) => {
            let store = open(&cli.database_url).await?;
            let org = management::get_org(&store, &org).await?;
            management::app_keys::revoke_cli(&store, &org, &id).await?;
            eprintln!("revoked application key {id}");
            Ok(())
        }
    }
}

/// The password for `admin create`: prompted for on a terminal, else one line of stdin;
/// empty means "generate one".
fn read_password() -> Result<(String, bool), BoxError> {
    let typed = if std::io::stdin().is_terminal() {
        rpassword::prompt_password("Password (empty to generate one): ")?
    } else {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s)?;
        s.lines().next().unwrap_or("").to_string()
    };
    if typed.is_empty() {
        Ok((scimgate::auth::password::generate_password(), true))
    } else {
        Ok((typed, false))
    }
}
