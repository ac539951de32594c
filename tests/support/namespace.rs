use std::time::Duration;

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{DeleteParams, ObjectMeta, PostParams};
use kube::{Api, Client, Config};

/// Label on every namespace a test creates, to find leftovers of killed test runs.
pub const TEST_NAMESPACE_LABEL: &str = "dedicated-address-controller.test/namespace";

/// A uniquely named namespace for one test, deleted when this value is dropped.
///
/// Drop cannot be async, and the test's runtime may be single-threaded and busy dropping
/// us, so the delete runs on its own thread with its own runtime and its own client, and
/// the drop waits for the API server to accept it (not for the namespace to be gone).
pub struct TestNamespace {
    name: String,
    config: Config,
}

impl TestNamespace {
    /// Creates `<prefix>-<random hex>`; panics if the API server refuses.
    pub async fn create(client: &Client, prefix: &str) -> Self {
        let name = format!("{prefix}-{:08x}", rand::random::<u32>());
        let namespace = Namespace {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                labels: Some([(TEST_NAMESPACE_LABEL.to_string(), prefix.to_string())].into()),
                ..ObjectMeta::default()
            },
            ..Namespace::default()
        };
        Api::<Namespace>::all(client.clone())
            .create(&PostParams::default(), &namespace)
            .await
            .unwrap_or_else(|e| panic!("creating test namespace {name}: {e}"));
        Self {
            name,
            config: super::config().await,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for TestNamespace {
    fn drop(&mut self) {
        let name = self.name.clone();
        let config = self.config.clone();
        let deleted = std::thread::spawn(move || -> Result<(), String> {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime.block_on(async move {
                let client = Client::try_from(config).map_err(|e| e.to_string())?;
                let namespaces = Api::<Namespace>::all(client);
                let params = DeleteParams::background();
                let delete = namespaces.delete(&name, &params);
                match tokio::time::timeout(Duration::from_secs(15), delete).await {
                    Ok(Ok(_)) => Ok(()),
                    Ok(Err(kube::Error::Api(status))) if status.is_not_found() => Ok(()),
                    Ok(Err(e)) => Err(e.to_string()),
                    Err(_) => Err("no answer in 15s".to_string()),
                }
            })
        })
        .join();
        // Never panic here: a panic while a failed test unwinds would abort the process.
        match deleted {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!(
                "warning: could not delete test namespace {}: {e}",
                self.name
            ),
            Err(_) => eprintln!("warning: deleting test namespace {} panicked", self.name),
        }
    }
}
