"""Form pieces the app and the admin share: each rule of an application or a claim, once."""
