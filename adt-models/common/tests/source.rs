//! `ModelSource`: local paths vs hub ids, and the hub cache layout resolved offline.

use adt_models_common::ModelSource;

#[test]
fn parse_distinguishes_paths_and_repos() {
    assert_eq!(
        ModelSource::parse("stable-diffusion-v1-5/stable-diffusion-v1-5@abc"),
        ModelSource::Hub {
            repo: "stable-diffusion-v1-5/stable-diffusion-v1-5".into(),
            revision: Some("abc".into())
        }
    );
    assert!(matches!(ModelSource::parse("./x"), ModelSource::Local(_)));
    assert!(matches!(ModelSource::parse("/tmp"), ModelSource::Local(_)));
}

#[test]
fn hub_cache_layout_is_resolved_offline() {
    let dir = tempfile::tempdir().unwrap();
    let commit = "0123456789abcdef0123456789abcdef01234567";
    let repo_dir = dir.path().join("models--org--tiny");
    let snap = repo_dir.join("snapshots").join(commit).join("unet");
    std::fs::create_dir_all(&snap).unwrap();
    std::fs::write(snap.join("config.json"), "{}").unwrap();
    std::fs::create_dir_all(repo_dir.join("refs")).unwrap();
    std::fs::write(repo_dir.join("refs").join("main"), commit).unwrap();
    // SAFETY: tests in this module are the only users of these variables.
    unsafe {
        std::env::set_var("HF_HUB_CACHE", dir.path());
        std::env::set_var("HF_HUB_OFFLINE", "1");
    }
    let by_branch = ModelSource::parse("org/tiny")
        .file("unet/config.json")
        .unwrap();
    let by_commit = ModelSource::parse(&format!("org/tiny@{commit}"))
        .file("unet/config.json")
        .unwrap();
    assert_eq!(by_branch, by_commit);
    let err = ModelSource::parse("org/tiny")
        .file("vae/config.json")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("vae/config.json") && err.contains("HF_HUB_OFFLINE"),
        "{err}"
    );
}
