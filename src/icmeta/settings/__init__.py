"""What a run and a grid are: settings declared once (`spec`), one validated run configuration
(`config`) with its train-time clamps (`interventions`), how training executes (`execution`), and
config.yaml's experiment blocks expanded into runs (`experiments`)."""
