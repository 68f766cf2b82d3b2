import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from reference.models import Institution, Region
from reference.selectors import region_covers
from reference.services import DEMO_INSTITUTIONS_CSV, ImportFailed, institutions_export, institutions_import

pytestmark = [pytest.mark.django_db, pytest.mark.embedded]

HEADER = "code,name,kind,level,region_code,address,inpatient,general_outpatient,chronic_outpatient,networked,active\n"


def test_every_province_and_prefecture_is_shipped():
    assert Region.objects.filter(level="province").count() == 31
    assert Region.objects.filter(level="prefecture").count() >= 333
    for code in ("110000", "120000", "310000", "500000"):
        assert Region.objects.get(code=code).is_pooling_area
    assert not Region.objects.get(code="130000").is_pooling_area
    assert Region.objects.get(code="130600").parent_id == "130000"
    assert not Region.objects.filter(level="prefecture", is_pooling_area=False).exists()


def test_import_creates_institutions_and_export_round_trips():
    result = institutions_import(data=DEMO_INSTITUTIONS_CSV.read_bytes())
    assert result.created >= 80
    exported = institutions_export()
    again = institutions_import(data=exported)
    assert (again.created, again.updated) == (0, result.created)


def test_import_with_bad_rows_saves_nothing_and_lists_every_bad_row():
    csv = HEADER + (
        "H11010500001,好医院,hospital,3,110000,,1,1,1,1,1\n"
        "H11010500002,,hospital,3,110000,,1,1,1,1,1\n"  # line 3: no name
        "P11010500003,药房,hospital,0,110000,,0,1,0,1,1\n"  # line 4: P code for a hospital
        "H44010500004,错地区,hospital,3,110000,,1,1,1,1,1\n"  # line 5: Guangzhou code in Beijing
        "H11010500005,某医院,hospital,5,999999,,1,1,1,maybe,1\n"  # line 6: level, region, boolean
        "H11010500001,重复,hospital,3,110000,,1,1,1,1,1\n"  # line 7: duplicate
    )
    with pytest.raises(ImportFailed) as exc:
        institutions_import(data=csv)
    errors = {(e.line, e.code) for e in exc.value.result.errors}
    assert (3, "required") in errors
    assert (4, "code_kind_mismatch") in errors
    assert (5, "code_region_mismatch") in errors
    assert {(6, "invalid_level"), (6, "unknown_region"), (6, "invalid_boolean")} <= errors
    assert (7, "duplicate_code") in errors
    assert not errors & {(2, c) for c in ("required", "invalid_code")}
    assert Institution.objects.count() == 0


def test_import_command_reports_bad_rows(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text(HEADER + "X1,bad,hospital,3,110000,,1,1,1,1,1\n", encoding="utf-8")
    with pytest.raises(CommandError, match="1 bad row"):
        call_command("import_institutions", str(path))
    assert Institution.objects.count() == 0


def test_import_refuses_a_file_with_missing_columns():
    with pytest.raises(Exception) as exc:
        institutions_import(data="code,name\nH11010500001,x\n")
    assert exc.value.code == "missing_columns"


def test_institution_search_filters_by_destination_kind_level_and_service(api_client):
    institutions_import(data=DEMO_INSTITUTIONS_CSV.read_bytes())
    body = api_client.get(
        "/api/v1/institutions/", {"region": "440000", "kind": "hospital", "level": 3, "service": "inpatient"}
    ).json()
    assert body["count"] > 0
    for row in body["results"]:
        assert row["region"] in ("440100", "440300") or row["region"].startswith("44")
        assert row["level"] == 3 and "inpatient" in row["services"]
    bad = api_client.get("/api/v1/institutions/", {"service": "dentistry"})
    assert bad.status_code == 400 and bad.json()["code"] == "invalid"
    unknown = api_client.get("/api/v1/institutions/", {"region": "999999"})
    assert unknown.status_code == 400 and unknown.json()["code"] == "unknown_region"


def test_institution_list_costs_constant_queries(api_client, django_assert_max_num_queries):
    institutions_import(data=DEMO_INSTITUTIONS_CSV.read_bytes())
    with django_assert_max_num_queries(3):
        response = api_client.get("/api/v1/institutions/", {"page_size": 100})
    assert response.json()["count"] > 50


def test_regions_api_lists_pooling_areas_of_a_province(api_client):
    body = api_client.get("/api/v1/regions/", {"parent": "130000", "pooling": "1", "page_size": 100}).json()
    names = {r["name"] for r in body["results"]}
    assert {"石家庄市", "保定市", "廊坊市"} <= names


def test_shipped_data_files_pass_their_checks():
    import importlib.util

    from reference.services import DATA_DIR

    spec = importlib.util.spec_from_file_location("check_data", DATA_DIR / "check_data.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    regions_path = DATA_DIR / "regions.csv"
    assert module.check_regions(regions_path) == []
    assert (
        module.check_institutions(DATA_DIR / "demo_institutions.csv", module.load_regions(regions_path)) == []
    )


def test_a_province_holds_exactly_the_regions_whose_parent_it_is():
    """`Institution.objects.in_region` finds a province's institutions by a range of codes (which an index
    serves); that range holds the province and its prefectures and nothing else."""
    for province in Region.objects.filter(level="province"):
        low, high = province.code_range
        by_range = set(Region.objects.filter(code__gte=low, code__lte=high).values_list("code", flat=True))
        by_parent = {province.code, *province.children.values_list("code", flat=True)}
        assert by_range == by_parent, province.code


def test_institutions_of_a_province_are_those_of_its_pooling_areas():
    institutions_import(data=DEMO_INSTITUTIONS_CSV.read_bytes())
    hebei = Region.objects.get(code="130000")
    found = set(Institution.objects.in_region(hebei))
    assert found
    assert found == {i for i in Institution.objects.all() if region_covers(hebei.code, i.region_id)}
