from watershop_dagster.defs import vision
from watershop_dagster.defs.resources import FaceEngineResource


def test_the_face_models_are_loaded_once_per_process_and_settings(monkeypatch):
    loaded = []
    monkeypatch.setattr(vision, "_ENGINES", {})
    monkeypatch.setattr(FaceEngineResource, "engine", lambda self: loaded.append(self.det_size) or object())
    a = vision.face_engine(FaceEngineResource())
    assert vision.face_engine(FaceEngineResource()) is a  # footage_analysis, then identities: one load
    assert vision.face_engine(FaceEngineResource(det_size=480)) is not a
    assert loaded == [640, 480]
