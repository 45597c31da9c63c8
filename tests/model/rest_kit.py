"""Creating datasets and standard-network models through the REST API, for the model tests."""
from tests.helpers import login, wait_status


def made_dataset(app, url, data, timeout=120):
    """(client logged in, scheduler, the dataset job) of a dataset form (url, fields) posted to app, once
    the dataset is Done."""
    client = login(app.test_client())
    sched = app.extensions["digits"]["scheduler"]
    response = client.post(url, data=data)
    assert response.status_code == 200, response.data
    dataset = sched.get_job(response.get_json()["id"])
    assert wait_status(dataset, ("Done", "Error"), timeout=timeout) == "Done", dataset.error()
    return client, sched, dataset


def standard_model_fields(dataset, **fields):
    """A generic model form (fields: task_type, standard_networks, ...) trained with Adam from seed 1 (no mean)."""
    return {"dataset": dataset.id, "model_name": "model", "method": "standard", "batch_size": "16",
            "solver_type": "ADAM", "use_mean": "none", "random_seed": "1", **fields}


def created_model(client, sched, fields):
    """The generic model job the form fields create."""
    response = client.post("/models/images/generic.json", data=fields)
    assert response.status_code == 200, response.data
    return sched.get_job(response.get_json()["id"])


def trained_model(client, sched, fields, timeout=300):
    """(model job, its /models/<id>.json) once it is trained."""
    model = created_model(client, sched, fields)
    assert wait_status(model, ("Done", "Error"), timeout=timeout) == "Done", model.error()
    return model, client.get(f"/models/{model.id}.json").get_json()
